// The pages' language: zh-CN first, English on a switch (remembered in localStorage). t() looks a
// key up in the current catalogue and fills {name} placeholders; useLanguage() re-renders on a switch.
import { useEffect, useState } from 'preact/hooks';
import { zhCN, type MessageKey } from './messages.zh-CN.js';
import { en } from './messages.en.js';

export type Language = 'zh-CN' | 'en';
export type { MessageKey };
const catalogues: Record<Language, Record<MessageKey, string>> = { 'zh-CN': zhCN, en };
const storageKey = 'cb.lang';

function initialLanguage(): Language {
  try {
    const saved = localStorage.getItem(storageKey);
    if (saved === 'en' || saved === 'zh-CN') return saved;
  } catch { /* storage may be unavailable (private mode): use the default */ }
  return 'zh-CN';
}

let current: Language = initialLanguage();
const listeners = new Set<() => void>();

export function language(): Language {
  return current;
}

export function setLanguage(next: Language): void {
  current = next;
  try { localStorage.setItem(storageKey, next); } catch { /* not remembered, still switched */ }
  document.documentElement.lang = next;
  for (const listener of listeners) listener();
}

export function t(key: MessageKey, params: Record<string, string | number> = {}): string {
  const template = catalogues[current][key] ?? key;
  return template.replace(/\{(\w+)\}/g, (whole, name: string) => (name in params ? String(params[name]) : whole));
}

/** Re-renders the calling component when the language switches; returns the language. */
export function useLanguage(): Language {
  const [, setTick] = useState(0);
  useEffect(() => {
    const listener = () => setTick((n) => n + 1);
    listeners.add(listener);
    return () => void listeners.delete(listener);
  }, []);
  return current;
}

document.documentElement.lang = current;
