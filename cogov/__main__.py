from cogov.cli import main

main()
