from cosmos_tui.cli.app import main

raise SystemExit(main())
