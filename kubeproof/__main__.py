from kubeproof.cli import main

raise SystemExit(main())
