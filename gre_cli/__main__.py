from gre_cli.main import run

run()
