from fnnet.experiments.xor import main

raise SystemExit(main())
