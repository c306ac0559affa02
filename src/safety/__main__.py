from safety.cli import main

main()
