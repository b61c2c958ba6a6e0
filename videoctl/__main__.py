from videoctl.cli import main

main()
