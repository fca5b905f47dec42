/** Cached expected counts are dropped beyond this many readings (4 bytes each: 128 MiB); the memory estimate counts them. */
export const CACHE_READINGS = 2 ** 25;
