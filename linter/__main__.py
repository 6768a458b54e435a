from somaxlint.cli import console

console()
