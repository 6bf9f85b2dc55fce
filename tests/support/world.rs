//! Seeded random workspaces for differential tests: team and folder hierarchies, people, robots
//! and accounts, permits and forbids built from `==`/`in`/`is` scopes and `when`/`unless`
//! conditions, two impersonation actions, three profiles. The world is written as files, so the
//! tool loads it as a user's workspace, and described as data, so an oracle can evaluate it with
//! raw Cedar without going through actas.

use std::fmt::Write;
use std::path::Path;

/// A small deterministic generator (splitmix64); the seed names the world.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed ^ 0x9E37_79B9_7F4A_7C15)
    }
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    pub fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
    pub fn pick<T: Clone>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())].clone()
    }
}

/// The impersonation actions and the principal types each applies to (resources: `Account`).
pub const ACTIONS: [(&str, &[&str]); 2] = [
    ("impersonate", &["Person", "Robot", "Account"]),
    ("signJwt", &["Person", "Account"]),
];

/// The profiles, as JSON contexts.
pub const PROFILES: [(&str, &str); 3] = [
    ("routine", r#"{"ticket": "CHG-1", "hours": 2, "mfa": true}"#),
    ("night", r#"{"ticket": "CHG-2", "hours": 8, "mfa": false}"#),
    (
        "break_glass",
        r#"{"ticket": "BG-1", "hours": 1, "mfa": true}"#,
    ),
];

pub struct World {
    pub schema: String,
    pub policies: String,
    pub entities: String,
    /// Identities that may impersonate, as uid strings.
    pub principals: Vec<String>,
    /// Accounts, as uid strings.
    pub accounts: Vec<String>,
    /// Folders (the resources of `read`), as uid strings.
    pub folders: Vec<String>,
    /// Whether the context declares `impersonator` and `delegation_chain`.
    pub path_dependent: bool,
    /// Whether `read`'s context declares `impersonator` (acting-as requests carry it).
    pub read_knows_impersonator: bool,
    /// Template links: (template, link id, principal, resource), uid strings.
    pub links: Vec<[String; 4]>,
    pub max_chain: u32,
}

/// Which relations between principal and account the policies use (see [`relate`]).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Relations {
    None,
    /// `resource.owner == principal` (and the owner's MFA forbid).
    Ownership,
    /// `resource.admins.contains(principal)`, `principal in resource.admins`.
    Admins,
    /// Every relation, attribute equality included.
    All,
}

pub struct Size {
    pub teams: usize,
    pub people: usize,
    pub robots: usize,
    pub folders: usize,
    pub accounts: usize,
    pub policies: usize,
    /// Policies on the non-impersonation action `read` (over folders); with none, the schema
    /// has no such action.
    pub grants: usize,
    /// Accounts have an `owner` and `admins` (people), and policies relate them to the
    /// principal (ownership, set membership, attribute equality): the shape where grouping
    /// identities by what the policies observe leaves one group per person.
    pub relations: Relations,
    /// Template links (role bindings) to people and nested teams, on accounts and folders.
    pub links: usize,
    /// Team and folder trees five levels deep, an action group (`Action::"hops"`) in scopes,
    /// and forbids on acting-as `read` requests that read `context.impersonator`.
    pub deep: bool,
}

impl Size {
    /// An organisation of `people` and `accounts`: teams of about 40, a robot per 20 people,
    /// folders of about 10 accounts (the shape of examples/gen_world.rs and the benchmarks).
    pub fn organisation(people: usize, accounts: usize, policies: usize, grants: usize) -> Size {
        Size {
            teams: (people / 40).max(3),
            people,
            robots: (people / 20).max(1),
            folders: (accounts / 10).max(2),
            accounts,
            policies,
            grants,
            relations: Relations::None,
            links: 0,
            deep: false,
        }
    }

    pub const SMALL: Size = Size {
        teams: 3,
        people: 5,
        robots: 2,
        folders: 3,
        accounts: 7,
        policies: 14,
        grants: 0,
        relations: Relations::None,
        links: 0,
        deep: false,
    };
    /// SMALL with a `read` action and policies on it: worlds with direct and acting-as grants.
    pub const WITH_GRANTS: Size = Size {
        teams: 3,
        people: 5,
        robots: 2,
        folders: 3,
        accounts: 7,
        policies: 14,
        grants: 8,
        relations: Relations::None,
        links: 0,
        deep: false,
    };
    /// Many people in few teams: identities that look alike to the policies, which the hop
    /// matrix groups (the differential test checks the grouping changes nothing).
    pub const CROWD: Size = Size {
        teams: 3,
        people: 120,
        robots: 4,
        folders: 3,
        accounts: 12,
        policies: 16,
        grants: 0,
        relations: Relations::None,
        links: 0,
        deep: false,
    };
    /// CROWD's people with accounts related to them (owners, admins): the joins' differential
    /// test.
    pub const RELATIONS: Size = Size {
        teams: 3,
        people: 40,
        robots: 3,
        folders: 3,
        accounts: 14,
        policies: 14,
        grants: 0,
        relations: Relations::All,
        links: 0,
        deep: false,
    };
    /// SMALL with template links, deep trees, an action group and acting-as forbids on the
    /// impersonator: the shapes of the zoo that change how policies are written.
    pub const LINKED_DEEP: Size = Size {
        teams: 8,
        people: 12,
        robots: 2,
        folders: 10,
        accounts: 9,
        policies: 12,
        grants: 8,
        relations: Relations::None,
        links: 30,
        deep: true,
    };
    /// For worlds whose hops depend on the path: every simple path is explored, by actas and
    /// by the oracle, so fewer accounts keep the test quick in a debug build.
    pub const TINY: Size = Size {
        teams: 3,
        people: 4,
        robots: 1,
        folders: 2,
        accounts: 5,
        policies: 12,
        grants: 0,
        relations: Relations::None,
        links: 0,
        deep: false,
    };
}

/// The shapes of `examples/gen_world.rs` (described there), each a way organisations write
/// their policies.
pub const SHAPES: [&str; 8] = [
    "teams",
    "ownership",
    "admins",
    "relations",
    "links",
    "deep",
    "path",
    "path-chain",
];

/// The world of `size` in `shape` (one of [`SHAPES`]); `None` for an unknown shape.
pub fn generate_shape(seed: u64, shape: &str, mut size: Size) -> Option<World> {
    let mut path_dependent = false;
    match shape {
        "teams" => {}
        "ownership" => size.relations = Relations::Ownership,
        "admins" => size.relations = Relations::Admins,
        "relations" => size.relations = Relations::All,
        "links" => size.links = size.people * 9 / 20,
        "deep" => {
            size.deep = true;
            size.grants = size.grants.max(20);
        }
        "path" | "path-chain" => path_dependent = true,
        _ => return None,
    }
    let mut w = generate(seed, &size, path_dependent);
    if path_dependent {
        w.max_chain = 4;
        if shape == "path" {
            w.read_only_the_impersonator();
        }
    }
    Some(w)
}

fn uid(ty: &str, id: &str) -> String {
    format!("{ty}::\"{id}\"")
}

pub fn generate(seed: u64, size: &Size, path_dependent: bool) -> World {
    let mut r = Rng::new(seed);
    let teams: Vec<String> = (0..size.teams).map(|i| format!("t{i}")).collect();
    let folders: Vec<String> = (0..size.folders).map(|i| format!("f{i}")).collect();
    let people: Vec<String> = (0..size.people).map(|i| format!("p{i}")).collect();
    let robots: Vec<String> = (0..size.robots).map(|i| format!("r{i}")).collect();
    let accounts: Vec<String> = (0..size.accounts).map(|i| format!("a{i}")).collect();

    let read_knows_impersonator = size.deep && size.grants > 0;
    let schema = schema_text(size, path_dependent);

    // Entities, shaped like an organisation: team and folder trees (a parent among the earlier
    // members, so acyclic), each person in one or two teams, each robot in one, each account
    // in one folder (sometimes two). Attributes come from small domains, as roles and levels do;
    // `department` is read by no policy.
    let mut entities = Vec::new();
    let tree = |r: &mut Rng, ty: &str, pool: &[String], i: usize| -> Vec<serde_json::Value> {
        if i == 0 || !r.chance(60) {
            return Vec::new();
        }
        vec![serde_json::json!({"type": ty, "id": pool[r.below(i)]})]
    };
    let some = |r: &mut Rng, ty: &str, pool: &[String], most: usize| -> Vec<serde_json::Value> {
        let mut picked: Vec<&String> = (0..1 + r.below(most))
            .map(|_| &pool[r.below(pool.len())])
            .collect();
        picked.sort();
        picked.dedup();
        picked
            .into_iter()
            .map(|id| serde_json::json!({"type": ty, "id": id}))
            .collect()
    };
    // Deep worlds: five levels of equal width, each member under one of the level above.
    let deep_tree = |r: &mut Rng, ty: &str, pool: &[String], i: usize| -> Vec<serde_json::Value> {
        let level = i * LEVELS / pool.len();
        if level == 0 {
            return Vec::new();
        }
        let (start, end) = (
            (level - 1) * pool.len() / LEVELS,
            level * pool.len() / LEVELS,
        );
        let parent = &pool[start + r.below(end - start)];
        vec![serde_json::json!({"type": ty, "id": parent})]
    };
    let tree = |r: &mut Rng, ty: &str, pool: &[String], i: usize| {
        if size.deep {
            deep_tree(r, ty, pool, i)
        } else {
            tree(r, ty, pool, i)
        }
    };
    for (i, t) in teams.iter().enumerate() {
        let p = tree(&mut r, "Team", &teams, i);
        entities
            .push(serde_json::json!({"uid": {"type": "Team", "id": t}, "attrs": {}, "parents": p}));
    }
    for (i, f) in folders.iter().enumerate() {
        let p = tree(&mut r, "Folder", &folders, i);
        entities.push(
            serde_json::json!({"uid": {"type": "Folder", "id": f}, "attrs": {}, "parents": p}),
        );
    }
    for p in &people {
        let ps = some(&mut r, "Team", &teams, 2);
        let level = r.below(4);
        let department = r.pick(&["eng", "ops", "sales", "finance", "legal", "support"]);
        entities.push(serde_json::json!({"uid": {"type": "Person", "id": p}, "attrs": {"level": level, "department": department}, "parents": ps}));
    }
    for b in &robots {
        let ps = some(&mut r, "Team", &teams, 1);
        entities.push(
            serde_json::json!({"uid": {"type": "Robot", "id": b}, "attrs": {}, "parents": ps}),
        );
    }
    for a in &accounts {
        let most = if r.chance(10) { 2 } else { 1 };
        let ps = some(&mut r, "Folder", &folders, most);
        let tier = r.below(4);
        let sensitive = r.chance(30);
        entities.push(serde_json::json!({"uid": {"type": "Account", "id": a}, "attrs": {"tier": tier, "sensitive": sensitive}, "parents": ps}));
    }

    // Policies.
    let names = Names {
        teams: &teams,
        folders: &folders,
        people: &people,
        accounts: &accounts,
    };
    let mut policies = impersonation_policies(&mut r, size, &names, path_dependent);
    policies.push_str(&grant_policies(&mut r, size, &names));
    if read_knows_impersonator {
        policies.push_str(&acting_as_forbids(seed, &names));
    }
    if size.relations != Relations::None {
        policies.push_str(&relate(seed, size.relations, &mut entities, &names));
    }
    let (templates, links) = bindings(seed, size.links, &names, &robots);
    policies.push_str(&templates);

    let mut principals: Vec<String> = people
        .iter()
        .map(|p| uid("Person", p))
        .chain(robots.iter().map(|b| uid("Robot", b)))
        .chain(accounts.iter().map(|a| uid("Account", a)))
        .collect();
    principals.sort();
    let mut account_uids: Vec<String> = accounts.iter().map(|a| uid("Account", a)).collect();
    account_uids.sort();
    World {
        schema,
        policies,
        entities: serde_json::to_string_pretty(&entities).unwrap(),
        principals,
        accounts: account_uids,
        folders: {
            let mut f: Vec<String> = folders.iter().map(|x| uid("Folder", x)).collect();
            f.sort();
            f
        },
        path_dependent,
        read_knows_impersonator,
        links,
        max_chain: 3,
    }
}

/// The schema of a world of `size` (see [`generate`]).
fn schema_text(size: &Size, path_dependent: bool) -> String {
    let mut schema = String::from(
        "entity Team in [Team];\n\
         entity Person in [Team] { level: Long, department: String };\n\
         entity Robot in [Team];\n\
         entity Folder in [Folder];\n\
         entity Account in [Folder] { tier: Long, sensitive: Bool };\n",
    );
    if size.relations != Relations::None {
        schema = schema.replace(
            "{ tier: Long, sensitive: Bool }",
            "{ tier: Long, sensitive: Bool, owner: Person, admins: Set<Person> }",
        );
    }
    schema.push_str("type Ctx = { ticket: String, hours: Long, mfa: Bool");
    if path_dependent {
        schema.push_str(", impersonator?: Person, delegation_chain?: Set<Account>");
    }
    schema.push_str(" };\n");
    // In deep worlds both impersonation actions belong to the group `hops`, which scopes name.
    let group = if size.deep {
        schema.push_str("action hops;\n");
        " in [hops]"
    } else {
        ""
    };
    for (action, principals) in ACTIONS {
        let _ = writeln!(
            schema,
            "action {action}{group} appliesTo {{ principal: [{}], resource: [Account], context: Ctx }};",
            principals.join(", ")
        );
    }

    let read_knows_impersonator = size.deep && size.grants > 0;
    if size.grants > 0 {
        let ctx = if read_knows_impersonator {
            schema.push_str(
                "type ReadCtx = { ticket: String, hours: Long, mfa: Bool, impersonator?: Person };\n",
            );
            "ReadCtx"
        } else {
            "Ctx"
        };
        let _ = writeln!(
            schema,
            "action read appliesTo {{ principal: [Person, Robot, Account], resource: [Folder], context: {ctx} }};"
        );
    }
    schema
}

/// Levels of the team and folder trees in deep worlds.
const LEVELS: usize = 5;

impl World {
    /// Replaces every condition on `delegation_chain` with one on the impersonator, so the
    /// hop contexts still declare the chain but no policy reads it.
    pub fn read_only_the_impersonator(&mut self) {
        self.policies = self
            .policies
            .lines()
            .map(|l| {
                if l.contains("delegation_chain") {
                    let end = if l.ends_with(';') { ";" } else { "" };
                    format!("  when {{ context has impersonator }}{end}")
                } else {
                    l.to_string()
                }
            })
            .collect::<Vec<_>>()
            .join("\n");
    }

    /// The policies as raw Cedar has them: parsed, then every template linked.
    pub fn policy_set(&self) -> cedar_policy::PolicySet {
        use cedar_policy::{PolicyId, SlotId};
        let mut set: cedar_policy::PolicySet = self.policies.parse().unwrap();
        // Cedar numbers the statements; templates are named by their `@id` here.
        let named: std::collections::HashMap<String, PolicyId> = set
            .templates()
            .filter_map(|t| Some((t.annotation("id")?.to_string(), t.id().clone())))
            .collect();
        for [template, id, principal, resource] in &self.links {
            let slots = [
                (SlotId::principal(), principal.parse().unwrap()),
                (SlotId::resource(), resource.parse().unwrap()),
            ];
            set.link(
                named[template].clone(),
                PolicyId::new(id),
                slots.into_iter().collect(),
            )
            .unwrap();
        }
        set
    }

    /// Writes the world as a workspace in `dir`.
    pub fn write(&self, dir: &Path) {
        std::fs::create_dir_all(dir.join("policies")).unwrap();
        std::fs::create_dir_all(dir.join("fixtures")).unwrap();
        std::fs::write(dir.join("policies/schema.cedarschema"), &self.schema).unwrap();
        std::fs::write(dir.join("policies/world.cedar"), &self.policies).unwrap();
        std::fs::write(dir.join("fixtures/entities.json"), &self.entities).unwrap();
        let mut config = String::from(
            "entities: [fixtures/entities.json]\nimpersonation:\n  actions: ['Action::\"impersonate\"', 'Action::\"signJwt\"']\n",
        );
        if !self.links.is_empty() {
            let mut yaml = String::new();
            for [template, id, principal, resource] in &self.links {
                let _ = writeln!(
                    yaml,
                    "- {{ template: {template}, id: {id}, principal: '{principal}', resource: '{resource}' }}"
                );
            }
            std::fs::write(dir.join("policies/bindings.yaml"), yaml).unwrap();
            config.insert_str(0, "links: [policies/bindings.yaml]\n");
        }
        let _ = writeln!(config, "  max_chain: {}\nprofiles:", self.max_chain);
        for (name, ctx) in PROFILES {
            let _ = writeln!(config, "  {name}: {ctx}");
        }
        std::fs::write(dir.join("actas.yaml"), config).unwrap();
    }
}

/// The generated organisation's names, for the policy generators.
struct Names<'a> {
    teams: &'a [String],
    folders: &'a [String],
    people: &'a [String],
    accounts: &'a [String],
}

/// Impersonation permits and forbids, shaped like real policy sets.
fn impersonation_policies(r: &mut Rng, size: &Size, n: &Names<'_>, path_dependent: bool) -> String {
    let (teams, folders, people, accounts) = (n.teams, n.folders, n.people, n.accounts);
    let mut policies = String::new();
    for i in 0..size.policies {
        // The repeated shape of real policy sets: one team may act as one folder's accounts.
        if r.chance(30) {
            let action = if size.deep && i % 2 == 0 {
                "action in Action::\"hops\""
            } else {
                "action == Action::\"impersonate\""
            };
            let _ = writeln!(
                policies,
                "@id(\"team-{i}\")\npermit (principal in {}, {action}, resource in {})\n  when {{ context.hours <= {} }};\n",
                uid("Team", &r.pick(teams)),
                uid("Folder", &r.pick(folders)),
                2 + r.below(6)
            );
            continue;
        }
        let forbid = r.chance(25);
        let mut principal = match r.below(6) {
            0 => "principal".to_string(),
            1 => format!("principal == {}", uid("Person", &r.pick(people))),
            2 => format!("principal == {}", uid("Account", &r.pick(accounts))),
            3 => format!("principal in {}", uid("Team", &r.pick(teams))),
            4 => format!("principal is {}", r.pick(&["Person", "Robot", "Account"])),
            _ => format!(
                "principal is Account in {}",
                uid("Folder", &r.pick(folders))
            ),
        };
        let action = match r.below(3) {
            0 => "action == Action::\"impersonate\"".to_string(),
            1 => "action == Action::\"signJwt\"".to_string(),
            _ if size.deep => "action in Action::\"hops\"".to_string(),
            _ => "action in [Action::\"impersonate\", Action::\"signJwt\"]".to_string(),
        };
        let mut resource = match r.below(4) {
            0 if forbid => "resource".to_string(),
            0 => format!("resource == {}", uid("Account", &r.pick(accounts))),
            1 => format!("resource == {}", uid("Account", &r.pick(accounts))),
            2 => format!("resource in {}", uid("Folder", &r.pick(folders))),
            _ => "resource is Account".to_string(),
        };
        // A permit open to every person names its account, and most go to a team instead; one
        // open to every robot or account names a folder at least. (Wider ones exist, as
        // misconfigurations; they would make every identity reach every account.)
        let everyone = principal == "principal" || principal == "principal is Person";
        if !forbid && everyone && r.chance(80) {
            principal = format!("principal in {}", uid("Team", &r.pick(teams)));
        }
        if !forbid && everyone && !resource.starts_with("resource ==") {
            resource = format!("resource == {}", uid("Account", &r.pick(accounts)));
        } else if !forbid
            && resource == "resource is Account"
            && principal.starts_with("principal is")
        {
            resource = format!("resource in {}", uid("Folder", &r.pick(folders)));
        }
        let mut conditions: Vec<String> = Vec::new();
        // A forbid is a guardrail: it always has a condition, and one over every account
        // guards the sensitive ones, or it would block a whole scope.
        if forbid && (resource == "resource" || resource == "resource is Account") {
            conditions.push("when { resource.sensitive }".to_string());
        }
        for _ in 0..r.below(3) + usize::from(forbid) {
            let c = match r.below(if path_dependent { 8 } else { 6 }) {
                0 => "when { context.mfa }".to_string(),
                1 => format!("when {{ context.hours <= {} }}", 1 + r.below(8)),
                2 => "unless { resource.sensitive }".to_string(),
                3 => "when { principal has level && principal.level >= resource.tier }".to_string(),
                4 => format!("when {{ context.ticket like \"{}\" }}", r.pick(&["CHG-*", "BG-*", "*-1"])),
                5 => format!("unless {{ principal in {} }}", uid("Team", &r.pick(teams))),
                // What hops may read of the origin: nothing but its presence, an attribute
                // (origins apart by its value), or its groups (origins apart by everything).
                6 => match r.below(3) {
                    0 => "when { context has impersonator }".to_string(),
                    1 => "when { context has impersonator && context.impersonator.level >= resource.tier }"
                        .to_string(),
                    _ => format!(
                        "unless {{ context has impersonator && context.impersonator in {} }}",
                        uid("Team", &r.pick(teams))
                    ),
                },
                _ => format!(
                    "unless {{ context has delegation_chain && context.delegation_chain.contains({}) }}",
                    uid("Account", &r.pick(accounts))
                ),
            };
            conditions.push(c);
        }
        let effect = if forbid { "forbid" } else { "permit" };
        let _ = writeln!(
            policies,
            "@id(\"{effect}-{i}\")\n{effect} ({principal}, {action}, {resource}){};\n",
            conditions
                .iter()
                .map(|c| format!("\n  {c}"))
                .collect::<String>()
        );
    }
    policies
}

/// Gives each account an owner and admins (people), and returns the policies that relate the
/// principal to the account: an owner acts as their account, admins sign for it, admins through
/// `in`, a level matching the account's tier, an owner barred from sensitive accounts without
/// MFA. Drawn from a generator of their own, so the rest of the world is as without them.
fn relate(
    seed: u64,
    which: Relations,
    entities: &mut [serde_json::Value],
    n: &Names<'_>,
) -> String {
    let mut r = Rng::new(seed ^ 0x0005_EED0_F0A1);
    for e in entities
        .iter_mut()
        .filter(|e| e["uid"]["type"] == "Account")
    {
        let owner = r.pick(n.people);
        let mut admins: Vec<String> = (0..1 + r.below(3)).map(|_| r.pick(n.people)).collect();
        admins.sort();
        admins.dedup();
        e["attrs"]["owner"] = serde_json::json!({"__entity": {"type": "Person", "id": owner}});
        e["attrs"]["admins"] = admins
            .iter()
            .map(|a| serde_json::json!({"__entity": {"type": "Person", "id": a}}))
            .collect();
    }
    let folder = uid("Folder", &r.pick(n.folders));
    let all = format!(
        "@id(\"owner-acts-as\")\npermit (principal is Person, action == Action::\"impersonate\", resource is Account)\n  when {{ resource.owner == principal && context.hours <= 4 }};\n\n\
         @id(\"admins-sign\")\npermit (principal is Person, action == Action::\"signJwt\", resource)\n  when {{ resource.admins.contains(principal) }};\n\n\
         @id(\"admins-impersonate\")\npermit (principal, action == Action::\"impersonate\", resource)\n  when {{ context.mfa && principal in resource.admins }};\n\n\
         @id(\"level-is-tier\")\npermit (principal is Person, action == Action::\"impersonate\", resource in {folder})\n  when {{ principal.level == resource.tier && context.hours <= 2 }};\n\n\
         @id(\"owner-needs-mfa-on-sensitive\")\nforbid (principal is Person, action, resource is Account)\n  when {{ principal == resource.owner && resource.sensitive && !context.mfa }};\n\n"
    );
    let kept: &[&str] = match which {
        Relations::None => &[],
        Relations::Ownership => &["owner-"],
        Relations::Admins => &["admins-"],
        Relations::All => &[""],
    };
    all.split("\n\n")
        .filter(|p| kept.iter().any(|k| p.starts_with(&format!("@id(\"{k}"))))
        .map(|p| format!("{p}\n\n"))
        .collect()
}

/// Two role templates and `count` links (role bindings): principals are people (one in five),
/// robots or teams at any depth; resources accounts or folders. Drawn from a generator of
/// their own.
fn bindings(
    seed: u64,
    count: usize,
    n: &Names<'_>,
    robots: &[String],
) -> (String, Vec<[String; 4]>) {
    if count == 0 {
        return (String::new(), Vec::new());
    }
    let mut r = Rng::new(seed ^ 0x0B1D_1265);
    let templates = "@id(\"role-token-creator\")\npermit (principal in ?principal, action in [Action::\"impersonate\", Action::\"signJwt\"], resource in ?resource)\n  when { context.hours <= 4 };\n\n\
         @id(\"role-exact\")\npermit (principal == ?principal, action == Action::\"impersonate\", resource == ?resource)\n  unless { resource.sensitive && !context.mfa };\n\n"
        .to_string();
    let mut links = Vec::with_capacity(count);
    for i in 0..count {
        let exact = r.chance(30);
        let principal = match r.below(5) {
            0 if exact => uid("Robot", &r.pick(robots)),
            0 | 1 if !exact => uid("Team", &r.pick(n.teams)),
            _ => uid("Person", &r.pick(n.people)),
        };
        let resource = if exact || r.chance(60) {
            uid("Account", &r.pick(n.accounts))
        } else {
            uid("Folder", &r.pick(n.folders))
        };
        let template = if exact {
            "role-exact"
        } else {
            "role-token-creator"
        };
        links.push([
            template.to_string(),
            format!("binding-{i}"),
            principal,
            resource,
        ]);
    }
    (templates, links)
}

/// Forbids on acting-as `read` that read the impersonator (deep worlds): an account's folder
/// may not be read by someone acting as it unless they are senior, or in a named team.
fn acting_as_forbids(seed: u64, n: &Names<'_>) -> String {
    let mut r = Rng::new(seed ^ 0x000A_C715);
    let mut out = String::new();
    for i in 0..3 {
        let folder = uid("Folder", &r.pick(n.folders));
        let condition = if i % 2 == 0 {
            format!("context.impersonator.level < {}", 1 + r.below(3))
        } else {
            format!(
                "!(context.impersonator in {})",
                uid("Team", &r.pick(n.teams))
            )
        };
        let _ = writeln!(
            out,
            "@id(\"acting-as-forbid-{i}\")\nforbid (principal is Account, action == Action::\"read\", resource in {folder})\n  when {{ context has impersonator && {condition} }};\n"
        );
    }
    out
}

/// Policies on `read`, drawn after the others so worlds without grants stay as they were.
fn grant_policies(r: &mut Rng, size: &Size, n: &Names<'_>) -> String {
    let (teams, folders, people) = (n.teams, n.folders, n.people);
    let mut policies = String::new();
    for i in 0..size.grants {
        let forbid = r.chance(25);
        let principal = match r.below(4) {
            0 => "principal".to_string(),
            1 => format!("principal == {}", uid("Person", &r.pick(people))),
            2 => format!("principal in {}", uid("Team", &r.pick(teams))),
            _ => format!("principal is {}", r.pick(&["Person", "Robot", "Account"])),
        };
        let resource = match r.below(3) {
            0 => "resource".to_string(),
            1 => format!("resource == {}", uid("Folder", &r.pick(folders))),
            _ => format!("resource in {}", uid("Folder", &r.pick(folders))),
        };
        let condition = match r.below(5) {
            0 => String::new(),
            1 => "\n  when { context.mfa }".to_string(),
            2 => format!("\n  when {{ context.hours <= {} }}", 1 + r.below(8)),
            // Overflows (an evaluation error) when hours >= 2: errors must survive slicing.
            3 => "\n  when { context.hours * 4611686018427387904 > 0 }".to_string(),
            _ => format!(
                "\n  unless {{ principal in {} }}",
                uid("Team", &r.pick(teams))
            ),
        };
        let effect = if forbid { "forbid" } else { "permit" };
        let _ = writeln!(
            policies,
            "@id(\"read-{effect}-{i}\")\n{effect} ({principal}, action == Action::\"read\", {resource}){condition};\n"
        );
    }
    policies
}
