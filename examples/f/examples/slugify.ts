/**
 * Turn a title into a URL slug: "Hello, World!" -> "hello-world".
 */
export function main(title: string, max_length: number = 60): string {
  const slug = title
    .normalize("NFKD")
    .replace(/[\u0300-\u036f]/g, "")
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "");
  return slug.slice(0, max_length).replace(/-+$/, "");
}
