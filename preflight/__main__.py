from preflight.entry import main

main()
