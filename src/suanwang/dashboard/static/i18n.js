// English and Simplified Chinese. `t(key, {name: value})` fills {name}; a key missing in
// Chinese falls back to English, a key missing in both shows itself (easy to spot).
// Static labels in index.html carry data-i18n (text), data-i18n-title, data-i18n-placeholder
// or data-i18n-aria (aria-label); applyStatic() fills them. The choice is kept in
// localStorage ("suanwang.lang").

const STRINGS = {
  en: {
    "app.title": "Suanwang operations dashboard",
    "app.subtitle": "The computing-power network: sites, links, prices, carbon and tasks",
    "app.signedIn": "Signed in as {principal} ({role})",
    "app.logout": "Sign out",
    "app.language": "Language",
    "app.skip": "Skip to the tasks table",

    "role.tenant": "tenant",
    "role.provider": "provider",
    "role.operator": "operator",
    "role.admin": "admin",

    "login.title": "Sign in with an API token",
    "login.help":
      "Paste a token (sw_…). “suanwang up” prints the operator token once, at its first start; an admin creates more with POST /v1/tokens. The token is kept in this browser tab only (sessionStorage) and sent only to this server.",
    "login.token": "Token",
    "login.submit": "Sign in",
    "login.checking": "Checking the token…",
    "login.empty": "Type or paste a token first.",
    "login.failed": "Sign-in refused: {message}",
    "login.ended": "Your session ended: {message}",

    "err.unreachable": "The API cannot be reached ({message}); retrying…",
    "err.rateLimited": "Too many requests; retrying shortly.",
    "err.generic": "{message}",

    "map.title": "World map",
    "map.aria": "World map of compute sites and network links",
    "map.hint": "Drag to pan, scroll to zoom. Click a site or a link for details.",
    "map.zoomIn": "Zoom in",
    "map.zoomOut": "Zoom out",
    "map.reset": "Reset the view",
    "map.loading": "Loading the network…",
    "map.stats": "{sites} sites · {links} links · {cut} cut · updated {time}",
    "layer.label": "Country shading",
    "layer.none": "None",
    "layer.latency": "Latency to affordable compute",
    "layer.internet": "Internet use",
    "layer.satellite": "Satellite links",

    "legend.title": "Legend",
    "legend.sites": "Sites: size = capacity (log scale), colour = load now",
    "legend.idle": "idle",
    "legend.full": "full",
    "legend.down": "site down",
    "legend.links": "Links (width = capacity)",
    "legend.terrestrial": "terrestrial fibre",
    "legend.submarine": "submarine cable",
    "legend.metro": "metro",
    "legend.satellite": "LEO satellite",
    "legend.cut": "cut",
    "legend.landing": "cable landing point",
    "legend.latency": "One-way ms from the country to the nearest affordable site",
    "legend.internet": "Internet users, % of population",
    "legend.noData": "no data",
    "legend.unreachable": "none reachable",
    "legend.rings": "Latency circles",
    "legend.source": "Country shapes: Natural Earth (public domain)",

    "tab.details": "Details",
    "tab.circles": "Latency circles",
    "tab.market": "Market & energy",
    "tab.whatif": "What-if",

    "details.empty": "Click a site or a link on the map to see it here.",
    "site.kind": "Kind",
    "site.operator": "Operator",
    "site.where": "Where",
    "site.zone": "Grid zone",
    "site.pue": "PUE",
    "site.carbon": "Carbon now",
    "site.power": "Power price now",
    "site.band": "Tariff band",
    "site.load": "Load",
    "site.capacity": "Capacity",
    "site.running": "Running tasks",
    "site.status": "Status",
    "site.up": "in service",
    "site.down": "DOWN",
    "site.pools": "Pools",
    "site.class": "Class",
    "site.model": "Model",
    "site.devices": "Devices",
    "site.online": "Online",
    "site.price": "Price",
    "site.tasks": "Tasks at this site (in the table below)",
    "site.noTasks": "None in the table.",
    "site.circles": "Latency circles from here",
    "site.energy": "Energy of this zone",
    "unit.units": "{n} units",
    "unit.perUnitHour": "{price} per unit·h",

    "link.kind": "Kind",
    "link.ends": "Ends",
    "link.cable": "Cable",
    "link.corridors": "Corridors",
    "link.latency": "Latency",
    "link.latencyValue": "{ow} ms one-way · {rtt} ms round trip",
    "link.capacity": "Capacity",
    "link.utilisation": "Utilisation",
    "link.status": "Status",
    "link.up": "in service",
    "link.cut": "CUT",

    "circles.title": "Latency circles (时延圈)",
    "circles.help":
      "The sites reachable over the network, on the fastest path with today's cuts, within 1, 5 and 20 ms of the centre site.",
    "circles.site": "Centre site",
    "circles.pick": "choose a site…",
    "circles.mode": "Measure",
    "circles.oneWay": "one-way",
    "circles.rtt": "round trip (RTT)",
    "circles.ring": "Within {ms} ms",
    "circles.count": "{n} sites",
    "circles.none": "No site.",
    "circles.clear": "Clear the circles",
    "circles.tip": "Tip: with this tab open, clicking a site on the map makes it the centre.",

    "market.prices": "Posted prices by class",
    "market.pricesHelp": "Per normalised compute unit-hour, over every pool of every site.",
    "market.class": "Class",
    "market.pools": "Pools",
    "market.min": "Min",
    "market.median": "Median",
    "market.max": "Max",
    "market.byModel": "By device model",
    "market.model": "Model",
    "market.sites": "Sites",
    "market.leases": "Latest clearing (newest leases)",
    "market.task": "Task",
    "market.site": "Site",
    "market.price": "Price / unit·h",
    "market.units": "Units",
    "market.state": "Lease",
    "market.noLeases": "No lease yet.",
    "market.leasesHidden": "Your role cannot read leases.",

    "energy.title": "24 h carbon and power price",
    "energy.site": "Site",
    "energy.zone": "Grid zone {zone} · PUE {pue} · hours in UTC",
    "energy.carbon": "carbon intensity (g CO₂/kWh, bars)",
    "energy.price": "power price ($/MWh, line)",
    "energy.window": "green window (renewable surplus)",
    "energy.greenest": "greenest {h} h",
    "energy.cheapest": "cheapest {h} h",
    "energy.noWindow": "No green window in the next 24 h.",
    "energy.windows": "Green windows: {list}",
    "energy.threshold": "threshold {g} g CO₂/kWh",
    "energy.pick": "Pick a site (or click one on the map).",

    "whatif.title": "What if a cable or a corridor is cut?",
    "whatif.help":
      "Cut a submarine cable or a whole sea corridor. The runtime takes the cut within about a second: its links turn dashed red on the map and tasks whose paths break move elsewhere. Restore undoes the cut.",
    "whatif.forbidden": "Only operators and admins can cut links.",
    "whatif.cable": "Cable",
    "whatif.corridor": "Corridor",
    "whatif.choose": "choose…",
    "whatif.cutCable": "Cut this cable",
    "whatif.cutCorridor": "Cut this corridor",
    "whatif.cuts": "Cuts in force",
    "whatif.none": "No cut in force.",
    "whatif.restore": "Restore",
    "whatif.linksCut": "links cut: {n}",
    "whatif.requested": "Cut requested (key {key}); the runtime applies it on its next tick…",
    "whatif.restoring": "Restore requested; the runtime applies it on its next tick…",
    "whatif.applied": "The cut is in force: links cut: {n}. Tasks on broken paths are moved.",
    "whatif.restored": "Restored: every link of that cut is back in service.",
    "whatif.moved": "Tasks that moved or were re-queued since the last cut",
    "whatif.noMoves": "None so far (of the tasks in the table).",

    "tasks.title": "Tasks",
    "tasks.live": "live, refreshed every 2 s",
    "tasks.state": "State",
    "tasks.all": "all",
    "tasks.task": "Task",
    "tasks.tenant": "Tenant",
    "tasks.site": "Site",
    "tasks.reason": "Reason",
    "tasks.cost": "Cost so far",
    "tasks.carbon": "Carbon so far",
    "tasks.submitted": "Submitted",
    "tasks.empty": "No task yet.",
    "tasks.forbidden": "Your role cannot read tasks.",
    "tasks.scopeOwn": "You see only your own tasks ({principal}).",
    "tasks.scopeAll": "You see every tenant's tasks (newest {n}).",
    "tasks.open": "Open the task page",

    "task.back": "← Back to the map",
    "task.title": "Task {name}",
    "task.notFound": "Task not found: {message}",
    "task.id": "Id",
    "task.tenant": "Tenant",
    "task.state": "State",
    "task.site": "Site",
    "task.pool": "Pool",
    "task.attempt": "Attempt",
    "task.submitted": "Submitted",
    "task.updated": "Updated",
    "task.reason": "Reason",
    "task.story": "Its story, event by event",
    "task.time": "Time (UTC)",
    "task.event": "Event",
    "task.change": "State change",
    "task.note": "Note",
    "task.ops": "Effects",
    "task.refused": "refused",
    "task.explain": "Why this site? (placement explanation)",
    "task.explainHelp":
      "Scored on this hour's capacity: higher is better; each criterion is 0–100. Sites that could not take the task say why.",
    "task.explainNone": "No explanation: {message}",
    "task.chosen": "Chosen",
    "task.runnerUp": "Runner-up",
    "task.feasible": "Feasible sites",
    "task.mode": "Mode",
    "task.rejectedBy": "Rejected by",
    "task.whyNot": "Why not the chosen site now",
    "task.rank": "Rank",
    "task.score": "Score",
    "task.scores": "Criteria (0–100)",
    "task.infeasible": "Sites that could not take it",
    "task.more": "…and {n} more",

    "kind.hub": "national hub",
    "kind.region": "cloud region",
    "kind.edge": "edge site",
    "kind.hpc": "supercomputing centre",
    "kind.ai": "AI computing centre",
    "linkkind.terrestrial": "terrestrial fibre",
    "linkkind.submarine": "submarine cable",
    "linkkind.metro": "metro fibre",
    "linkkind.satellite": "LEO satellite",
    "class.general": "general",
    "class.ai": "AI",
    "class.hpc": "HPC",
    "band.critical-peak": "critical peak",
    "band.peak": "peak",
    "band.flat": "flat",
    "band.valley": "valley",
    "band.deep-valley": "deep valley",
    "income.low": "low income",
    "income.lower-middle": "lower-middle income",
    "income.upper-middle": "upper-middle income",
    "income.high": "high income",
    "income.unclassified": "unclassified",
    "state.submitted": "submitted",
    "state.queued": "queued",
    "state.placed": "placed",
    "state.dispatched": "dispatched",
    "state.running": "running",
    "state.succeeded": "succeeded",
    "state.failed": "failed",
    "state.cancelled": "cancelled",
    "state.rescheduling": "rescheduling",
    "event.submit": "submitted",
    "event.admit": "admitted",
    "event.reject": "rejected",
    "event.place": "placed",
    "event.dispatched": "dispatched",
    "event.started": "started",
    "event.checkpoint": "checkpoint",
    "event.succeeded": "succeeded",
    "event.failed": "failed",
    "event.lost": "lost",
    "event.stopped": "stopped",
    "event.cancel": "cancelled",
    "country.income": "Income group",
    "country.internet": "Internet users",
    "country.best": "Nearest affordable site",
    "country.bestValue": "{site}, {ms} ms one-way",
    "country.none": "none reachable",
  },
  zh: {
    "app.title": "算网运营看板",
    "app.subtitle": "算力网络全景：站点、链路、价格、碳排与任务",
    "app.signedIn": "已登录：{principal}（{role}）",
    "app.logout": "退出登录",
    "app.language": "语言",
    "app.skip": "跳到任务表",

    "role.tenant": "租户",
    "role.provider": "算力提供方",
    "role.operator": "运营方",
    "role.admin": "管理员",

    "login.title": "使用 API 令牌登录",
    "login.help":
      "粘贴令牌（sw_…）。“suanwang up” 首次启动时打印一次运营方令牌；管理员可通过 POST /v1/tokens 创建更多令牌。令牌只保存在本浏览器标签页（sessionStorage），只发送给本服务器。",
    "login.token": "令牌",
    "login.submit": "登录",
    "login.checking": "正在验证令牌…",
    "login.empty": "请先输入或粘贴令牌。",
    "login.failed": "登录被拒绝：{message}",
    "login.ended": "会话已结束：{message}",

    "err.unreachable": "无法连接 API（{message}），正在重试…",
    "err.rateLimited": "请求过多，稍后自动重试。",

    "map.title": "世界地图",
    "map.aria": "算力站点与网络链路世界地图",
    "map.hint": "拖动平移，滚轮缩放。点击站点或链路查看详情。",
    "map.zoomIn": "放大",
    "map.zoomOut": "缩小",
    "map.reset": "复位视图",
    "map.loading": "正在加载网络…",
    "map.stats": "{sites} 个站点 · {links} 条链路 · {cut} 条中断 · 更新于 {time}",
    "layer.label": "国家底色",
    "layer.none": "无",
    "layer.latency": "到可负担算力的时延",
    "layer.internet": "互联网普及率",
    "layer.satellite": "卫星链路",

    "legend.title": "图例",
    "legend.sites": "站点：大小 = 算力容量（对数），颜色 = 当前负载",
    "legend.idle": "空闲",
    "legend.full": "满载",
    "legend.down": "站点故障",
    "legend.links": "链路（粗细 = 容量）",
    "legend.terrestrial": "陆地光缆",
    "legend.submarine": "海底光缆",
    "legend.metro": "城域网",
    "legend.satellite": "低轨卫星",
    "legend.cut": "已中断",
    "legend.landing": "海缆登陆点",
    "legend.latency": "从该国到最近可负担站点的单向时延（毫秒）",
    "legend.internet": "互联网用户占人口比例（%）",
    "legend.noData": "无数据",
    "legend.unreachable": "不可达",
    "legend.rings": "时延圈",
    "legend.source": "国界数据：Natural Earth（公有领域）",

    "tab.details": "详情",
    "tab.circles": "时延圈",
    "tab.market": "市场与能源",
    "tab.whatif": "中断推演",

    "details.empty": "在地图上点击站点或链路，在此查看详情。",
    "site.kind": "类型",
    "site.operator": "运营者",
    "site.where": "位置",
    "site.zone": "电网区域",
    "site.pue": "PUE",
    "site.carbon": "当前碳强度",
    "site.power": "当前电价",
    "site.band": "电价时段",
    "site.load": "负载",
    "site.capacity": "容量",
    "site.running": "运行中任务",
    "site.status": "状态",
    "site.up": "正常",
    "site.down": "故障",
    "site.pools": "资源池",
    "site.class": "类别",
    "site.model": "型号",
    "site.devices": "设备数",
    "site.online": "在线",
    "site.price": "价格",
    "site.tasks": "本站任务（见下方任务表）",
    "site.noTasks": "任务表中没有。",
    "site.circles": "以此为中心的时延圈",
    "site.energy": "该区域能源",
    "unit.units": "{n} 算力单位",
    "unit.perUnitHour": "{price} / 单位·时",

    "link.kind": "类型",
    "link.ends": "两端",
    "link.cable": "海缆",
    "link.corridors": "通道",
    "link.latency": "时延",
    "link.latencyValue": "单向 {ow} 毫秒 · 往返 {rtt} 毫秒",
    "link.capacity": "容量",
    "link.utilisation": "利用率",
    "link.status": "状态",
    "link.up": "正常",
    "link.cut": "已中断",

    "circles.title": "时延圈",
    "circles.help": "在当前中断情况下，经最快路径从中心站点 1、5、20 毫秒内可达的站点。",
    "circles.site": "中心站点",
    "circles.pick": "选择站点…",
    "circles.mode": "度量",
    "circles.oneWay": "单向",
    "circles.rtt": "往返（RTT）",
    "circles.ring": "{ms} 毫秒内",
    "circles.count": "{n} 个站点",
    "circles.none": "无站点。",
    "circles.clear": "清除时延圈",
    "circles.tip": "提示：打开此标签页时，点击地图上的站点即可将其设为中心。",

    "market.prices": "各类算力挂牌价",
    "market.pricesHelp": "按标准算力单位·小时计，覆盖所有站点的所有资源池。",
    "market.class": "类别",
    "market.pools": "资源池",
    "market.min": "最低",
    "market.median": "中位数",
    "market.max": "最高",
    "market.byModel": "按设备型号",
    "market.model": "型号",
    "market.sites": "站点数",
    "market.leases": "最新成交（最新租约）",
    "market.task": "任务",
    "market.site": "站点",
    "market.price": "单价 / 单位·时",
    "market.units": "单位",
    "market.state": "租约",
    "market.noLeases": "暂无租约。",
    "market.leasesHidden": "你的角色无权查看租约。",

    "energy.title": "24 小时碳强度与电价",
    "energy.site": "站点",
    "energy.zone": "电网区域 {zone} · PUE {pue} · 时间为 UTC",
    "energy.carbon": "碳强度（克 CO₂/千瓦时，柱）",
    "energy.price": "电价（美元/兆瓦时，折线）",
    "energy.window": "绿电窗口（可再生能源富余）",
    "energy.greenest": "最绿 {h} 小时",
    "energy.cheapest": "最便宜 {h} 小时",
    "energy.noWindow": "未来 24 小时没有绿电窗口。",
    "energy.windows": "绿电窗口：{list}",
    "energy.threshold": "阈值 {g} 克 CO₂/千瓦时",
    "energy.pick": "选择站点（或在地图上点击）。",

    "whatif.title": "如果海缆或通道中断会怎样？",
    "whatif.help":
      "切断一条海底光缆或整条海上通道。运行时约一秒内生效：受影响链路在地图上变为红色虚线，路径中断的任务迁往他处。“恢复”撤销中断。",
    "whatif.forbidden": "只有运营方和管理员可以执行中断推演。",
    "whatif.cable": "海缆",
    "whatif.corridor": "通道",
    "whatif.choose": "请选择…",
    "whatif.cutCable": "切断此海缆",
    "whatif.cutCorridor": "切断此通道",
    "whatif.cuts": "生效中的中断",
    "whatif.none": "当前没有中断。",
    "whatif.restore": "恢复",
    "whatif.linksCut": "中断链路：{n} 条",
    "whatif.requested": "已请求中断（键 {key}），运行时将在下一拍生效…",
    "whatif.restoring": "已请求恢复，运行时将在下一拍生效…",
    "whatif.applied": "中断已生效：中断链路 {n} 条。路径中断的任务将被迁移。",
    "whatif.restored": "已恢复：该中断涉及的链路全部恢复服务。",
    "whatif.moved": "最近一次中断以来迁移或重新排队的任务",
    "whatif.noMoves": "暂无（任务表中的任务）。",

    "tasks.title": "任务",
    "tasks.live": "实时，每 2 秒刷新",
    "tasks.state": "状态",
    "tasks.all": "全部",
    "tasks.task": "任务",
    "tasks.tenant": "租户",
    "tasks.site": "站点",
    "tasks.reason": "原因",
    "tasks.cost": "累计费用",
    "tasks.carbon": "累计碳排",
    "tasks.submitted": "提交时间",
    "tasks.empty": "暂无任务。",
    "tasks.forbidden": "你的角色无权查看任务。",
    "tasks.scopeOwn": "你只能看到自己的任务（{principal}）。",
    "tasks.scopeAll": "你可以看到所有租户的任务（最新 {n} 个）。",
    "tasks.open": "打开任务页",

    "task.back": "← 返回地图",
    "task.title": "任务 {name}",
    "task.notFound": "未找到任务：{message}",
    "task.id": "编号",
    "task.tenant": "租户",
    "task.state": "状态",
    "task.site": "站点",
    "task.pool": "资源池",
    "task.attempt": "尝试次数",
    "task.submitted": "提交时间",
    "task.updated": "更新时间",
    "task.reason": "原因",
    "task.story": "任务经历（逐条事件）",
    "task.time": "时间（UTC）",
    "task.event": "事件",
    "task.change": "状态变化",
    "task.note": "说明",
    "task.ops": "效果",
    "task.refused": "被拒绝",
    "task.explain": "为什么是这个站点？（调度解释）",
    "task.explainHelp":
      "按本小时容量评分：分数越高越好，各项指标为 0–100。无法承接任务的站点给出原因。",
    "task.explainNone": "无解释：{message}",
    "task.chosen": "选中站点",
    "task.runnerUp": "次优站点",
    "task.feasible": "可行站点数",
    "task.mode": "模式",
    "task.rejectedBy": "排除原因",
    "task.whyNot": "为何现在不选该站点",
    "task.rank": "排名",
    "task.score": "得分",
    "task.scores": "各项指标（0–100）",
    "task.infeasible": "无法承接的站点",
    "task.more": "……另有 {n} 个",

    "kind.hub": "国家枢纽",
    "kind.region": "云区域",
    "kind.edge": "边缘站点",
    "kind.hpc": "超算中心",
    "kind.ai": "智算中心",
    "linkkind.terrestrial": "陆地光缆",
    "linkkind.submarine": "海底光缆",
    "linkkind.metro": "城域光纤",
    "linkkind.satellite": "低轨卫星",
    "class.general": "通用算力",
    "class.ai": "智能算力",
    "class.hpc": "超算算力",
    "band.critical-peak": "尖峰",
    "band.peak": "高峰",
    "band.flat": "平段",
    "band.valley": "低谷",
    "band.deep-valley": "深谷",
    "income.low": "低收入",
    "income.lower-middle": "中低收入",
    "income.upper-middle": "中高收入",
    "income.high": "高收入",
    "income.unclassified": "未分类",
    "state.submitted": "已提交",
    "state.queued": "排队中",
    "state.placed": "已调度",
    "state.dispatched": "已派发",
    "state.running": "运行中",
    "state.succeeded": "已成功",
    "state.failed": "失败",
    "state.cancelled": "已取消",
    "state.rescheduling": "重新调度中",
    "event.submit": "提交",
    "event.admit": "受理",
    "event.reject": "拒绝",
    "event.place": "调度",
    "event.dispatched": "派发",
    "event.started": "开始运行",
    "event.checkpoint": "检查点",
    "event.succeeded": "成功",
    "event.failed": "失败",
    "event.lost": "丢失",
    "event.stopped": "已停止",
    "event.cancel": "取消",
    "country.income": "收入组别",
    "country.internet": "互联网用户",
    "country.best": "最近的可负担站点",
    "country.bestValue": "{site}，单向 {ms} 毫秒",
    "country.none": "不可达",
  },
};

export const LANGS = ["en", "zh"];
const KEY = "suanwang.lang";
const listeners = [];

function initial() {
  try {
    const saved = localStorage.getItem(KEY);
    if (LANGS.includes(saved)) return saved;
  } catch {
    // storage disabled: fall through
  }
  return (navigator.language || "en").toLowerCase().startsWith("zh") ? "zh" : "en";
}

let current = initial();

export function lang() {
  return current;
}

export function locale() {
  return current === "zh" ? "zh-CN" : "en";
}

export function t(key, params = {}) {
  const text = STRINGS[current][key] ?? STRINGS.en[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (m, name) => (name in params ? String(params[name]) : m));
}

/** t() for an enumerated value ("state", "queued"), the raw value when there is no label. */
export function label(group, value) {
  if (value === null || value === undefined || value === "") return "—";
  const key = `${group}.${value}`;
  return key in STRINGS.en ? t(key) : String(value);
}

export function applyStatic(root = document) {
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll("[data-i18n-title]")) el.title = t(el.dataset.i18nTitle);
  for (const el of root.querySelectorAll("[data-i18n-placeholder]")) {
    el.placeholder = t(el.dataset.i18nPlaceholder);
  }
  for (const el of root.querySelectorAll("[data-i18n-aria]")) {
    el.setAttribute("aria-label", t(el.dataset.i18nAria));
  }
  document.documentElement.lang = locale();
  document.title = t("app.title");
}

export function setLang(value) {
  if (!LANGS.includes(value)) return;
  current = value;
  try {
    localStorage.setItem(KEY, value);
  } catch {
    // storage disabled: the choice lasts until the page is reloaded
  }
  applyStatic();
  for (const f of listeners) f(value);
}

export function onLangChange(f) {
  listeners.push(f);
}

// --- formatting ---------------------------------------------------------------------------

export function num(value, digits = 1) {
  if (value === null || value === undefined || Number.isNaN(value)) return "—";
  return new Intl.NumberFormat(locale(), { maximumFractionDigits: digits }).format(value);
}

export function pct(share, digits = 0) {
  if (share === null || share === undefined) return "—";
  return new Intl.NumberFormat(locale(), {
    style: "percent",
    maximumFractionDigits: digits,
  }).format(share);
}

/** Money from micro-units: small amounts keep significant digits ($0.00293). */
export function money(micros, currency) {
  if (micros === null || micros === undefined || !currency) return "—";
  const value = micros / 1e6;
  const abs = Math.abs(value);
  const digits = abs === 0 ? 2 : abs < 0.01 ? 5 : abs < 1 ? 4 : 2;
  try {
    return new Intl.NumberFormat(locale(), {
      style: "currency",
      currency,
      minimumFractionDigits: 2,
      maximumFractionDigits: digits,
    }).format(value);
  } catch {
    return `${value.toFixed(digits)} ${currency}`;
  }
}

export function grams(g) {
  if (g === null || g === undefined) return "—";
  if (Math.abs(g) >= 1000) return `${num(g / 1000, 2)} kg CO₂e`;
  return `${num(g, 1)} g CO₂e`;
}

/** A UTC time as HH:MM:SS (or with the date when not today). */
export function time(iso, withDate = false) {
  if (!iso) return "—";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  const text = d.toISOString();
  return withDate ? `${text.slice(0, 10)} ${text.slice(11, 19)}` : text.slice(11, 19);
}
