/** Bytes as gigabytes (2^30) to one decimal, for one-line memory messages: "1.3 GB". */
export const formatGb = (bytes: number): string => `${(bytes / 2 ** 30).toFixed(1)} GB`;
