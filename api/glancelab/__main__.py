from glancelab.cli import main

raise SystemExit(main())
