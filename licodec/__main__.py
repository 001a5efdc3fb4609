from licodec.cli import main

main(prog_name="licodec")
