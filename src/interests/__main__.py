from interests.cli import main

raise SystemExit(main())
