from fnnet.experiments.digits_mlp import main

raise SystemExit(main())
