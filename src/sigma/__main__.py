from sigma.cli import main

main()
