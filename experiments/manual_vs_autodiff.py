from fnnet.experiments.manual_vs_autodiff import main

raise SystemExit(main())
