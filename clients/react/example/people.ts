/**
 * The people in seed.json and their Kratos session cookies. A real app gets the cookie from
 * the Kratos login flow; this example sets it itself, so one click signs you in.
 */
export interface Person {
  name: string;
  email: string;
  cookie: string;
}

export const PEOPLE: Person[] = [
  { name: "Alice Ng", email: "alice@example.com", cookie: "alice-session-cookie" },
  { name: "Bob Stone", email: "bob@example.com", cookie: "bob-session-cookie" },
  { name: "Carol Diaz", email: "carol@example.com", cookie: "carol-session-cookie" },
];

const COOKIE = "ory_kratos_session";

/** Who the session cookie says is signed in. */
export function signedInPerson(): Person | null {
  const value = document.cookie
    .split(";")
    .map((pair) => pair.trim().split("="))
    .find(([name]) => name === COOKIE)?.[1];
  return PEOPLE.find((person) => person.cookie === value) ?? null;
}

// Cookies belong to a host, not a port: set on this page's host, the browser also sends it
// to Polis on another port of the same host.
export function signIn(person: Person): void {
  document.cookie = `${COOKIE}=${person.cookie}; path=/; SameSite=Lax`;
  window.location.reload();
}

export function signOut(): void {
  document.cookie = `${COOKIE}=; path=/; max-age=0; SameSite=Lax`;
  window.location.reload();
}
