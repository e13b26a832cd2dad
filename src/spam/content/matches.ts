// Counting a pattern's matches without making them.

/**
 * How many times `re` (global) matches `text`, counted up to `max`: found by test, which makes no match array, and
 * no further than the rules need (a page's hundreds of <img> and <font> tags were each an array element).
 */
export const matchesUpTo = (re: RegExp, text: string, max: number) => {
  re.lastIndex = 0;
  let count = 0;
  while (count < max && re.test(text)) count++;
  re.lastIndex = 0;
  return count;
};
