from linter.cli import console

console()
