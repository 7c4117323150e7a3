from ohnix.entry import main

raise SystemExit(main())
