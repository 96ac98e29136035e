from fnnet.experiments.universal_approximation import main

raise SystemExit(main())
