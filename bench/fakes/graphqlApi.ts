// A GraphQL API on graphql-js over node:http, for the declarative GraphQL connector: Relay
// connections (`users(first, after, updatedSince)` with edges/nodes/pageInfo), offset lists
// (`posts(offset, limit, updatedSince)`), bearer auth, and a field that fails so the server
// answers 200 with `errors` (as GraphQL servers do).
import { buildSchema, graphql, type GraphQLSchema } from "graphql";
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";

export interface GqlUser {
  id: string;
  name: string;
  updatedAt: string;
}
export interface GqlPost {
  id: string;
  title: string;
  authorId: string;
  updatedAt: string;
}

export interface LoggedGraphqlRequest {
  query: string;
  variables: Record<string, unknown>;
  authorization?: string;
  status: number;
}

export interface GraphqlApi {
  url: string;
  requests: LoggedGraphqlRequest[];
  users: GqlUser[];
  posts: GqlPost[];
  touchUser(id: string): GqlUser;
  close(): Promise<void>;
}

const sdl = /* GraphQL */ `
  type User { id: ID!, name: String!, updatedAt: String! }
  type Post { id: ID!, title: String!, authorId: ID!, updatedAt: String! }
  type PageInfo { hasNextPage: Boolean!, endCursor: String }
  type UserEdge { node: User!, cursor: String! }
  type UserConnection { edges: [UserEdge!]!, nodes: [User!]!, pageInfo: PageInfo!, totalCount: Int! }
  type Query {
    users(first: Int, after: String, updatedSince: String): UserConnection!
    posts(offset: Int, limit: Int, updatedSince: String): [Post!]!
    "Always fails: the response is 200 with an errors array."
    secretUsers: [User!]
  }
`;

const encodeCursor = (index: number) => Buffer.from(`cursor:${index}`).toString("base64");
const decodeCursor = (cursor: string) => Number(Buffer.from(cursor, "base64").toString().replace("cursor:", ""));

export async function startGraphqlApi(options: { users?: number; postsCount?: number; token?: string; maxPageSize?: number } = {}): Promise<GraphqlApi> {
  const token = options.token ?? "gql-token";
  const maxPage = options.maxPageSize ?? 50;
  let clock = Date.UTC(2024, 0, 1);
  const tick = () => new Date((clock += 60_000)).toISOString();
  const users: GqlUser[] = Array.from({ length: options.users ?? 23 }, (_, i) => ({ id: `u${i + 1}`, name: `User ${i + 1}`, updatedAt: tick() }));
  const posts: GqlPost[] = Array.from({ length: options.postsCount ?? 17 }, (_, i) => ({
    id: `p${i + 1}`,
    title: `Post ${i + 1}`,
    authorId: users[i % users.length].id,
    updatedAt: tick(),
  }));

  const since = <T extends { updatedAt: string }>(list: T[], updatedSince?: string | null) => {
    if (!updatedSince) return list;
    const t = Date.parse(updatedSince);
    if (Number.isNaN(t)) throw new Error(`updatedSince: not a timestamp: ${updatedSince}`);
    return list.filter((r) => Date.parse(r.updatedAt) >= t);
  };

  const root = {
    users: (args: { first?: number | null; after?: string | null; updatedSince?: string | null }) => {
      const list = since(users, args.updatedSince);
      const start = args.after ? decodeCursor(args.after) + 1 : 0;
      const first = Math.min(maxPage, args.first ?? 10);
      const slice = list.slice(start, start + first);
      const edges = slice.map((node, i) => ({ node, cursor: encodeCursor(start + i) }));
      return {
        edges,
        nodes: slice,
        totalCount: list.length,
        pageInfo: { hasNextPage: start + slice.length < list.length, endCursor: edges.at(-1)?.cursor ?? null },
      };
    },
    posts: (args: { offset?: number | null; limit?: number | null; updatedSince?: string | null }) => {
      const offset = args.offset ?? 0;
      return since(posts, args.updatedSince).slice(offset, offset + Math.min(maxPage, args.limit ?? 10));
    },
    secretUsers: () => {
      throw new Error("Not authorized to access secretUsers");
    },
  };
  const schema: GraphQLSchema = buildSchema(sdl);
  const requests: LoggedGraphqlRequest[] = [];

  const server = createServer(async (req, res) => {
    const reply = (status: number, body: unknown, log?: Omit<LoggedGraphqlRequest, "status">) => {
      if (log) requests.push({ ...log, status });
      res.writeHead(status, { "content-type": "application/json" });
      res.end(JSON.stringify(body));
    };
    if (req.method !== "POST" || new URL(req.url ?? "/", "http://x").pathname !== "/graphql") return reply(404, { error: "POST /graphql" });
    let payload: { query?: string; variables?: Record<string, unknown> };
    try {
      payload = JSON.parse(await readBody(req));
    } catch {
      return reply(400, { errors: [{ message: "body is not JSON" }] });
    }
    const log = { query: payload.query ?? "", variables: payload.variables ?? {}, authorization: req.headers.authorization };
    if (req.headers.authorization !== `Bearer ${token}`) return reply(401, { errors: [{ message: "Unauthorized" }] }, log);
    const result = await graphql({ schema, source: log.query, rootValue: root, variableValues: log.variables });
    reply(200, result, log);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}/graphql`,
    requests,
    users,
    posts,
    touchUser(id) {
      const user = users.find((u) => u.id === id);
      if (!user) throw new Error(`no user ${id}`);
      user.updatedAt = tick();
      return user;
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((err) => (err ? reject(err) : resolve()));
      }),
  };
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}
