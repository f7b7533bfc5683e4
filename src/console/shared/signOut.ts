// Signing out: the server ends the session (so the token stops working everywhere), then the page
// forgets it. If the server cannot be reached the page still forgets it.
import { gql } from './api.js';
import { endSession } from './session.js';

export async function signOut(): Promise<void> {
  try {
    await gql('mutation { signOut { endedAt } }');
  } catch {
    /* already ended, or offline: forget the token anyway */
  }
  endSession('signedOut');
}
