from fnnet.experiments.vanishing_gradients import main

raise SystemExit(main())
