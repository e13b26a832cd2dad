// Human output of the admin commands: aligned columns, sizes and times people read at a glance.

/** Rows under a header, each column as wide as its widest cell; the last column is not padded. */
export function table(header: string[], rows: string[][]): string {
  if (rows.length === 0) return '(none)\n';
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return `${[line(header), ...rows.map(line)].join('\n')}\n`;
}

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];

export function bytes(n: number): string {
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${n} B` : `${value.toFixed(value < 10 ? 1 : 0)} ${UNITS[unit]}`;
}

/** "1048576", "512K", "5M", "1G", "2T" (binary units) → bytes; undefined when unreadable. */
export function parseBytes(text: string): number | undefined {
  const match = /^(\d+)([KMGT])?i?B?$/i.exec(text.trim());
  if (!match) return undefined;
  const power = match[2] ? 'KMGT'.indexOf(match[2].toUpperCase()) + 1 : 0;
  const value = Number(match[1]) * 1024 ** power;
  return Number.isSafeInteger(value) ? value : undefined;
}

/** RFC 3339 → "2025-01-02 13:04 UTC"; "-" for null. */
export const when = (iso: string | null | undefined): string =>
  iso ? `${iso.slice(0, 16).replace('T', ' ')} UTC` : '-';
