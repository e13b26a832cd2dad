/** The command line's arguments after the script's path. */
export const args = process.argv.slice(2);

/** The value after `name` on the command line (`--orders source,1`), or `fallback` when it is absent. */
export const argOption = (name: string, fallback: string): string =>
  args.includes(name) ? args[args.indexOf(name) + 1]! : fallback;
