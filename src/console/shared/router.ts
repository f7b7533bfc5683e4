// A hash router (#/claims, #/members/12): the server serves one shell per app, and the back button,
// reload and shared links all work without server routes.
import { useEffect, useState } from 'preact/hooks';

export function currentPath(): string {
  return decodeURIComponent(location.hash.replace(/^#/, '')) || '/';
}

export function navigate(path: string): void {
  location.hash = path;
}

/** The current path, re-rendering on navigation. */
export function useRoute(): string {
  const [path, setPath] = useState(currentPath());
  useEffect(() => {
    const listener = () => setPath(currentPath());
    addEventListener('hashchange', listener);
    return () => removeEventListener('hashchange', listener);
  }, []);
  return path;
}

/** Matches "/members/:id" against a path; returns the params or null. */
export function match(pattern: string, path: string): Record<string, string> | null {
  const names: string[] = [];
  const regex = new RegExp(`^${pattern.replace(/\/:(\w+)/g, (_, name: string) => { names.push(name); return '/([^/]+)'; })}/?$`);
  const found = regex.exec(path);
  if (!found) return null;
  return Object.fromEntries(names.map((name, i) => [name, found[i + 1]!]));
}
