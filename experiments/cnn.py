from fnnet.experiments.cnn import main

raise SystemExit(main())
