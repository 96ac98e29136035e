from fnnet.experiments.rprop_minibatch import main

raise SystemExit(main())
