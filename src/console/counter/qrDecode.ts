// The QR decoder for browsers without the native BarcodeDetector: jsQR, in a chunk of its own that
// the counter imports only when the camera opens, so the first load of the page stays small.
import jsQR from 'jsqr';

/** The text of a QR code in the frame, or null. */
export function decodeQr(frame: ImageData): string | null {
  return jsQR(frame.data, frame.width, frame.height, { inversionAttempts: 'dontInvert' })?.data ?? null;
}
