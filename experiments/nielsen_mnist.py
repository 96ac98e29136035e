from fnnet.experiments.nielsen_mnist import main

raise SystemExit(main())
