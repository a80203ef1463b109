import { checkSlug, slugFromName } from "../src/slug.js";

describe("slug rules (the server's)", () => {
  it.each([
    ["acme-corp", null],
    ["a", null],
    ["", "empty"],
    ["Acme", "invalid_characters"],
    ["acme_corp", "invalid_characters"],
    ["acme corp", "invalid_characters"],
    ["a".repeat(64), null],
    ["a".repeat(65), "too_long"],
    ["0190b7a2-7c1e-7d2b-9a57-0c2f5f0b8e11", "uuid_shaped"],
    ["0190b7a27c1e7d2b9a570c2f5f0b8e11", "uuid_shaped"],
    ["0190b7a2-7c1e-7d2b-9a57-0c2f5f0b8e1", null],
  ])("%j → %s", (slug, problem) => {
    expect(checkSlug(slug)).toBe(problem);
  });

  it("derives a slug from a name as the server does", () => {
    expect(slugFromName("Acme Corp!")).toBe("acme-corp");
    expect(slugFromName("  Über  Team ")).toBe("ber-team");
    expect(slugFromName("!!!")).toBe("org");
    expect(slugFromName("x".repeat(80))).toHaveLength(64);
  });
});
