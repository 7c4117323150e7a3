from ohnix.cli import main

raise SystemExit(main())
