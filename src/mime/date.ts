// Date: header to epoch ms, for SENTBEFORE/SENTON/SENTSINCE and SORT DATE. RFC 5322 syntax with
// the obsolete forms real mail uses (two-digit years, named zones, comments, missing seconds).

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
const ZONES: Record<string, number> = {
  ut: 0,
  utc: 0,
  gmt: 0,
  z: 0,
  edt: -4,
  est: -5,
  cdt: -5,
  cst: -6,
  mdt: -6,
  mst: -7,
  pdt: -7,
  pst: -8,
};

// The time may carry a 12-hour clock's AM/PM, which some mail programs write ("10:05:15 PM -0500").
const RFC5322 =
  /(\d{1,2})[\s-]*([A-Za-z]{3})[A-Za-z]*\.?[\s-]*(\d{2,4})\s+(\d{1,2})[:.](\d{1,2})(?:[:.](\d{1,2}))?(?:\s*([AaPp][Mm])\b)?\s*([+-]\d{2}:?\d{2}|[A-Za-z]{1,5})?/;

export function parseDate(value: string | null): number | null {
  return parseDateZone(value)?.time ?? null;
}

/** The instant (epoch ms) and the zone the date was written in (minutes east of UTC). */
export function parseDateZone(value: string | null): { time: number; offset: number } | null {
  if (!value) return null;
  const v = value.slice(0, 256).replace(/\([^()]*\)/g, ' ');
  const m = RFC5322.exec(v);
  if (m) {
    const day = +m[1]!;
    const month = MONTHS.indexOf(m[2]!.toLowerCase());
    let year = +m[3]!;
    if (m[3]!.length === 2) year += year < 50 ? 2000 : 1900;
    else if (m[3]!.length === 3) year += 1900;
    const meridiem = m[7]?.toLowerCase();
    let hour = +m[4]!;
    if (meridiem) hour = (hour % 12) + (meridiem === 'pm' ? 12 : 0); // 12:30 AM is 00:30, 12:30 PM 12:30
    const minute = +m[5]!;
    const second = m[6] ? +m[6] : 0;
    let offset = 0; // minutes east of UTC; unknown zones count as UTC (RFC 5322 section 4.3)
    const zone = m[8];
    if (zone && (zone[0] === '+' || zone[0] === '-')) {
      const digits = zone.slice(1).replace(':', '');
      // A zone's minutes run to 59 (RFC 5322 §3.3); "+0360" is no zone, so it counts as unknown.
      if (+digits.slice(2, 4) < 60)
        offset = (zone[0] === '-' ? -1 : 1) * (+digits.slice(0, 2) * 60 + +digits.slice(2, 4));
    } else if (zone) {
      offset = (ZONES[zone.toLowerCase()] ?? 0) * 60;
    }
    if (month >= 0 && day >= 1 && day <= 31 && hour <= 24 && minute <= 59 && second <= 60) {
      return { time: Date.UTC(year, month, day, hour, minute, second) - offset * 60_000, offset };
    }
  }
  const parsed = Date.parse(v);
  return Number.isFinite(parsed) ? { time: parsed, offset: 0 } : null;
}
