// Times for people: "issued 3 minutes ago", "expires in 23 hours".

const UNITS = [
  ["year", 365 * 86400],
  ["month", 30 * 86400],
  ["day", 86400],
  ["hour", 3600],
  ["minute", 60],
  ["second", 1],
];

/** Seconds since the epoch, now. */
export function nowSeconds() {
  return Date.now() / 1000;
}

/** "3 minutes ago" or "in 23 hours": the largest whole unit, rounded down. */
export function relative(seconds, now = nowSeconds()) {
  const delta = seconds - now;
  const size = Math.abs(delta);
  if (size < 1) {
    return "just now";
  }
  const [unit, length] = UNITS.find(([, unitLength]) => size >= unitLength);
  const count = Math.floor(size / length);
  const phrase = `${count} ${unit}${count === 1 ? "" : "s"}`;
  return delta < 0 ? `${phrase} ago` : `in ${phrase}`;
}

const PHRASES = {
  iat: ["issued", "issued"],
  exp: ["expired", "expires"],
  nbf: ["became valid", "becomes valid"],
  auth_time: ["authenticated", "authenticated"],
};

/** The time claims a token carries, in a stable order. */
export const TIME_CLAIMS = Object.keys(PHRASES);

/** "expired 2 days ago", "expires in 23 hours", "issued 3 minutes ago". */
export function describe(claim, seconds, now = nowSeconds()) {
  const [past, future] = PHRASES[claim];
  return `${seconds <= now ? past : future} ${relative(seconds, now)}`;
}

/** "2021-03-06 20:36:35 UTC", or null when the number is no date. */
export function utc(seconds) {
  const date = new Date(seconds * 1000);
  if (!Number.isFinite(seconds) || Number.isNaN(date.getTime())) {
    return null;
  }
  return `${date.toISOString().slice(0, 19).replace("T", " ")} UTC`;
}
