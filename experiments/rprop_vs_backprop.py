from fnnet.experiments.rprop_vs_backprop import main

raise SystemExit(main())
