// Wall-clock times of a time zone as a spreadsheet holds them: a date without a zone, carried in a
// Date's UTC fields (exceljs reads and writes date cells that way). Converts both ways with Intl.

/** The wall clock of an instant in timeZone, as the UTC fields of the returned Date. */
export function wallClockOf(at: Date, timeZone: string): Date {
  const parts = Object.fromEntries(new Intl.DateTimeFormat('en-US', {
    timeZone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric',
  }).formatToParts(at).map((p) => [p.type, p.value]));
  return new Date(Date.UTC(Number(parts.year), Number(parts.month) - 1, Number(parts.day), Number(parts.hour), Number(parts.minute), Number(parts.second))
    + at.getUTCMilliseconds());
}

/** The instant whose wall clock in timeZone is wall's UTC fields (a second pass settles a zone change between them). */
export function instantOfWallClock(wall: Date, timeZone: string): Date {
  const offsetAt = (at: number) => wallClockOf(new Date(at), timeZone).getTime() - at;
  const first = wall.getTime() - offsetAt(wall.getTime());
  return new Date(wall.getTime() - offsetAt(first));
}
