from xlrebalance.cli import main

raise SystemExit(main())
