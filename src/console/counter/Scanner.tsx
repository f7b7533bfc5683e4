// The camera view that scans a voucher's QR code. It decodes with the browser's BarcodeDetector where
// there is one (Chrome on Android), else with jsQR loaded on demand (qrDecode.ts, its own chunk). The
// camera stops as soon as a code is read or the cashier goes back; typing always remains possible.
import { useEffect, useRef, useState } from 'preact/hooks';
import { t, type MessageKey } from '../shared/i18n.js';

/** A frame every this many ms: enough to feel instant, light on a cheap phone's CPU and battery. */
const scanIntervalMs = 200;
/** Frames are scaled down to this width before jsQR reads them: a voucher's QR fills the view anyway. */
const decodeWidthMax = 640;

interface Detector { detect(source: CanvasImageSource): Promise<{ rawValue: string }[]> }
interface DetectorClass { new(options: { formats: string[] }): Detector; getSupportedFormats(): Promise<string[]> }

async function nativeDetector(): Promise<Detector | null> {
  const Native = (globalThis as { BarcodeDetector?: DetectorClass }).BarcodeDetector;
  if (!Native) return null;
  try {
    return (await Native.getSupportedFormats()).includes('qr_code') ? new Native({ formats: ['qr_code'] }) : null;
  } catch {
    return null;
  }
}

function cameraProblem(error: unknown): MessageKey {
  const name = (error as { name?: string })?.name;
  if (name === 'NotAllowedError' || name === 'SecurityError') return 'counter.scan.denied';
  if (name === 'NotFoundError' || name === 'OverconstrainedError') return 'counter.scan.noCamera';
  return 'counter.scan.failed';
}

export function Scanner({ onCode, onCancel }: { onCode: (text: string) => void; onCancel: () => void }) {
  const video = useRef<HTMLVideoElement>(null);
  const [problem, setProblem] = useState<MessageKey | null>(null);
  const [ready, setReady] = useState(false);

  useEffect(() => {
    let stopped = false;
    let stream: MediaStream | null = null;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const stop = () => {
      stopped = true;
      clearTimeout(timer);
      stream?.getTracks().forEach((track) => track.stop());
    };
    (async () => {
      if (!navigator.mediaDevices?.getUserMedia) {
        // Cameras are offered only to secure pages (https or localhost).
        setProblem(window.isSecureContext ? 'counter.scan.noCamera' : 'counter.scan.insecure');
        return;
      }
      try {
        stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: 'environment' }, audio: false });
      } catch (error) {
        if (!stopped) setProblem(cameraProblem(error));
        return;
      }
      if (stopped) return stop();
      const element = video.current!;
      element.srcObject = stream;
      await element.play().catch(() => undefined);
      const detector = await nativeDetector();
      const decodeQr = detector ? null : (await import('./qrDecode.js')).decodeQr;
      if (stopped) return;
      setReady(true);
      const canvas = document.createElement('canvas');
      const context = canvas.getContext('2d', { willReadFrequently: true });
      const tick = async () => {
        if (stopped) return;
        let text: string | null = null;
        if (element.readyState >= 2 && element.videoWidth > 0) {
          if (detector) {
            text = (await detector.detect(element).catch(() => []))[0]?.rawValue ?? null;
          } else if (context && decodeQr) {
            const scale = Math.min(1, decodeWidthMax / element.videoWidth);
            canvas.width = Math.round(element.videoWidth * scale);
            canvas.height = Math.round(element.videoHeight * scale);
            context.drawImage(element, 0, 0, canvas.width, canvas.height);
            text = decodeQr(context.getImageData(0, 0, canvas.width, canvas.height));
          }
        }
        if (stopped) return;
        if (text && text.trim()) {
          stop();
          onCode(text);
          return;
        }
        timer = setTimeout(() => void tick(), scanIntervalMs);
      };
      void tick();
    })();
    return stop;
  }, []);

  return (
    <section class="scanner" data-testid="scanner" aria-label={t('counter.scan.title')}>
      <div class="scanner-view">
        <video ref={video} class="scanner-video" muted playsInline autoPlay aria-hidden="true" />
        {!problem && <div class="scanner-frame" aria-hidden="true" />}
        {problem
          ? <p class="scanner-message scanner-problem" data-testid="scanner-problem">{t(problem)}</p>
          : <p class="scanner-message" role="status">{t(ready ? 'counter.scan.hint' : 'counter.scan.starting')}</p>}
      </div>
      <button type="button" class="btn btn-xl btn-block" onClick={onCancel}>{t('counter.scan.type')}</button>
    </section>
  );
}
