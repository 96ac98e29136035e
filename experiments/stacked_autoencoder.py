from fnnet.experiments.stacked_autoencoder import main

raise SystemExit(main())
