/** The CLI's two streams (src/ has no console: Biome's noConsole). */
export function print(text: string): void {
  process.stdout.write(`${text}\n`);
}

export function printError(text: string): void {
  process.stderr.write(`${text}\n`);
}
