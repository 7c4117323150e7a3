"""The command line: the Typer app and one module per command group (parse, call one core
function, print).
"""
