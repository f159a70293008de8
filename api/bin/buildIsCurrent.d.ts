/** Whether the build in `dist` was made from the files under `root` as they are now. */
export function buildIsCurrent(dist: URL, root: URL): boolean;
