from fnnet.experiments.pca_autoencoder import main

raise SystemExit(main())
