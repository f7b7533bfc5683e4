// The error messages' catalogue: each common message has an id, its English template (what the code
// raises, and what a message raised as text by a SQL function is matched against to recover its id and
// parameters) and its Chinese template (zh-CN, 简体中文). An error is rendered per request in the
// caller's language (Accept-Language) with instants in ISO 8601 in the bank's time zone; a message
// without a translation stays English. Owns: the catalogue, matching, rendering, language choice.
import type { BankError, ErrorCode, MessageParams } from './errors.js';

export type Language = 'en' | 'zh-CN';

/** How a request wants its errors: its language and the time zone of the caller's bank. */
export interface Locale { language: Language; timeZone: string }

interface Entry { code: ErrorCode; en: string; zh: string }

/**
 * Templates name their parameters {like_this}; a parameter appears once per template. Order matters
 * where two English templates could match one message: the more specific comes first.
 */
const catalogue: Record<string, Entry> = {
  // INSUFFICIENT_FUNDS (cb_post_entry, cb_award_one, cb_redeem)
  'funds.memberShort': { code: 'INSUFFICIENT_FUNDS', en: 'member {member} has {available} {asset} available, {required} needed', zh: '储户 {member} 可用 {asset} 为 {available}，需要 {required}' },
  'funds.redeemShort': { code: 'INSUFFICIENT_FUNDS', en: 'member {member} has {available} POINTS available, {quantity} × "{item}" costs {required}', zh: '储户 {member} 可用积分为 {available}，兑换 {quantity} 件「{item}」需要 {required}' },
  // Households (户, migration 072): a household wallet short, a household rule's cap, and who may spend
  'funds.householdShort': { code: 'INSUFFICIENT_FUNDS', en: 'household {household} has {available} {asset} available, {required} needed', zh: '户 {household} 可用 {asset} 为 {available}，需要 {required}' },
  'funds.householdRedeemShort': { code: 'INSUFFICIENT_FUNDS', en: 'household {household} has {available} POINTS available, {quantity} × "{item}" costs {required}', zh: '户 {household} 可用积分为 {available}，兑换 {quantity} 件「{item}」需要 {required}' },
  'funds.accountShort': { code: 'INSUFFICIENT_FUNDS', en: '{owner} has {available} {asset} available, {required} needed', zh: '{owner} 可用 {asset} 为 {available}，需要 {required}' },
  // CAP_EXCEEDED (cb_award_one)
  'cap.exceeded': { code: 'CAP_EXCEEDED', en: 'rule "{rule}" allows {limit} per {window} for member {member}; already used {used} in the {period} starting {windowStart}, this award asks {requested}', zh: '规则「{rule}」每{window}对储户 {member} 最多 {limit}；自 {windowStart} 起的本{period}已用 {used}，本次又要 {requested}' },
  'cap.exceededHousehold': { code: 'CAP_EXCEEDED', en: 'rule "{rule}" allows {limit} per {window} for household {household}; already used {used} in the {period} starting {windowStart}, this award asks {requested}', zh: '规则「{rule}」每{window}对户 {household} 最多 {limit}；自 {windowStart} 起的本{period}已用 {used}，本次又要 {requested}' },
  'household.minor': { code: 'FORBIDDEN', en: 'member {member} is a minor in household {household}: only adult members may spend from the household wallet', zh: '储户 {member} 是户 {household} 的未成年成员：只有成年成员才能使用户积分' },
  'household.headOnly': { code: 'FORBIDDEN', en: 'in branch {branch} only the head of household {household} may spend from its wallet; member {member} is not its head', zh: '{branch} 规定只有户主才能使用户 {household} 的积分；储户 {member} 不是户主' },
  'household.noWallet': { code: 'INVALID_STATE', en: 'member {member} is in no household: there is no household wallet to spend from', zh: '储户 {member} 不属于任何户：没有可用的户积分' },
  'household.memberInNone': { code: 'INVALID_STATE', en: 'member {member} is in no household; rule "{rule}" credits the member\'s household', zh: '储户 {member} 不属于任何户；规则「{rule}」的积分记入户' },
  'household.ruleCreditsMember': { code: 'BAD_USER_INPUT', en: 'rule "{rule}" credits a member, not a household: name the member (memberId or externalId)', zh: '规则「{rule}」的积分记入个人而不是户：请指明储户（memberId 或 externalId）' },
  'household.externalIdNotFound': { code: 'NOT_FOUND', en: 'no household with externalId "{externalId}" in this bank', zh: '本行没有 externalId 为 "{externalId}" 的户' },
  'household.outsideScope': { code: 'FORBIDDEN', en: 'household {household} belongs to a branch outside your scope', zh: '户 {household} 所属分行不在您的管辖范围内' },
  'rule.notApplicableHousehold': { code: 'NOT_FOUND', en: 'no rule "{rule}" applies to household {household}', zh: '没有适用于户 {household} 的规则「{rule}」' },
  // OUT_OF_STOCK (cb_redeem)
  'stock.out': { code: 'OUT_OF_STOCK', en: 'item "{item}" has {left} left, you asked for {requested}', zh: '商品「{item}」只剩 {left} 件，您要兑换 {requested} 件' },
  // LIMIT_EXCEEDED (cb_redeem, cb_donate)
  'limit.itemPerMember': { code: 'LIMIT_EXCEEDED', en: 'item "{item}" allows {limit} per member{per}; member {member} has {used}, this asks {requested} more', zh: '商品「{item}」每位储户{per}限兑 {limit} 件；储户 {member} 已兑 {used} 件，本次又要 {requested} 件' },
  'limit.poolTarget': { code: 'LIMIT_EXCEEDED', en: 'pool "{pool}" needs only {remaining} POINTS more (raised {raised} of {target}); donate at most that', zh: '众筹「{pool}」只差 {remaining} 积分（已筹 {raised}，目标 {target}）；捐赠不能超过这个数' },
  'limit.poolDonations': { code: 'LIMIT_EXCEEDED', en: 'pool "{pool}" has taken its {count} donations; it can take no more', zh: '众筹「{pool}」已收满 {count} 笔捐赠，不再接受捐赠' },
  // IDEMPOTENCY_CONFLICT
  'idempotency.conflict': { code: 'IDEMPOTENCY_CONFLICT', en: 'idempotencyKey "{key}" was already used for a different {operation} request; send a new key for a new request', zh: '幂等键 "{key}" 已用于另一个不同的 {operation} 请求；新请求请使用新的键' },
  // INVALID_STATE: vouchers, pools, claims, transactions, rules, score years
  'voucher.fulfilledAlready': { code: 'INVALID_STATE', en: 'voucher {code} is FULFILLED (at {fulfilledAt}); only a PENDING voucher can be fulfilled', zh: '兑换券 {code} 已于 {fulfilledAt} 核销；只有待核销的兑换券才能核销' },
  'voucher.expiredAlready': { code: 'INVALID_STATE', en: 'voucher {code} is EXPIRED (since {expiredAt}); only a PENDING voucher can be fulfilled', zh: '兑换券 {code} 已于 {expiredAt} 过期；只有待核销的兑换券才能核销' },
  'voucher.notFulfillable': { code: 'INVALID_STATE', en: 'voucher {code} is {status}; only a PENDING voucher can be fulfilled', zh: '兑换券 {code} {status}；只有待核销的兑换券才能核销' },
  'voucher.notCancellable': { code: 'INVALID_STATE', en: 'voucher {code} is {status}; only a PENDING voucher can be cancelled', zh: '兑换券 {code} {status}；只有待核销的兑换券才能取消' },
  'voucher.notRefundable': { code: 'INVALID_STATE', en: 'voucher {code} is {status}; only a FULFILLED voucher can be refunded', zh: '兑换券 {code} {status}；只有已核销的兑换券才能退款' },
  'item.notActive': { code: 'INVALID_STATE', en: 'item "{item}" is offered from {from} to {to}, not now', zh: '商品「{item}」的兑换时间为 {from} 至 {to}，现在不可兑换' },
  'pool.closedForDonations': { code: 'INVALID_STATE', en: 'pool "{pool}" closed for donations at {deadline}', zh: '众筹「{pool}」已于 {deadline} 截止捐赠' },
  'pool.notOpen': { code: 'INVALID_STATE', en: 'pool "{pool}" is {status} and takes no more donations', zh: '众筹「{pool}」{status}，不再接受捐赠' },
  'pool.notFunded': { code: 'INVALID_STATE', en: 'pool "{pool}" is {status} (raised {raised} of {target}); only a FUNDED pool can be disbursed', zh: '众筹「{pool}」{status}（已筹 {raised}，目标 {target}）；只有已筹满的众筹才能拨付' },
  'pool.notClosable': { code: 'INVALID_STATE', en: 'pool "{pool}" is {status}; only an OPEN or FUNDED pool can be closed', zh: '众筹「{pool}」{status}；只有募集中或已筹满的众筹才能关闭' },
  'claim.decidedAlready': { code: 'INVALID_STATE', en: 'claim {claim} was already {decision} by {by}', zh: '申报 {claim} 已被 {by} {decision}' },
  'transaction.reversedAlready': { code: 'INVALID_STATE', en: 'transaction {transaction} was already reversed by transaction {reversal}', zh: '交易 {transaction} 已被交易 {reversal} 冲正' },
  'transaction.reversedOnce': { code: 'INVALID_STATE', en: 'this transaction has already been reversed', zh: '这笔交易已经冲正过了' },
  'transaction.notPosted': { code: 'INVALID_STATE', en: 'transaction {transaction} is {status}; only a POSTED transaction can be reversed', zh: '交易 {transaction} 的状态为 {status}；只有已入账的交易才能冲正' },
  'rule.notValidThen': { code: 'BAD_USER_INPUT', en: 'occurredAt: rule "{rule}" version {version} is valid from {from} to {to}', zh: 'occurredAt：规则「{rule}」第 {version} 版的有效期为 {from} 至 {to}' },
  'rule.needsApproval': { code: 'INVALID_STATE', en: 'rule "{rule}" needs approval: submit a claim instead of awarding directly', zh: '规则「{rule}」需要审批：请提交申报，不能直接发放' },
  'scoreYear.closedForMember': { code: 'INVALID_STATE', en: "the {year} party-score year is closed for branch {branch}: member {member}'s PARTY_SCORE dated in it cannot change (the head bank can reopen the year)", zh: '{branch} 的 {year} 年度党员积分已关账：储户 {member} 该年度的党员积分不能再变动（总行可以重新打开该年度）' },
  // NOT_FOUND
  'member.idNotFound': { code: 'NOT_FOUND', en: 'no member with id {id} in this bank', zh: '本行没有 id 为 {id} 的储户' },
  'member.externalIdNotFound': { code: 'NOT_FOUND', en: 'no member with externalId "{externalId}" in this bank', zh: '本行没有 externalId 为 "{externalId}" 的储户' },
  'member.idNotFoundField': { code: 'NOT_FOUND', en: '{field}: no member with id {id}', zh: '{field}：没有 id 为 {id} 的储户' },
  'member.externalIdNotFoundField': { code: 'NOT_FOUND', en: '{field}: no member with externalId "{externalId}"', zh: '{field}：没有 externalId 为 "{externalId}" 的储户' },
  'rule.notApplicable': { code: 'NOT_FOUND', en: 'no rule "{rule}" applies to member {member}', zh: '没有适用于储户 {member} 的规则「{rule}」' },
  'rule.notApplicableField': { code: 'NOT_FOUND', en: '{field}: no rule "{rule}" applies to member {member}', zh: '{field}：没有适用于储户 {member} 的规则「{rule}」' },
  'rule.notForToken': { code: 'NOT_FOUND', en: '{field}: no rule "{rule}" that your token may apply', zh: '{field}：没有您的令牌可用的规则「{rule}」' },
  'voucher.notFound': { code: 'NOT_FOUND', en: 'code: no voucher {code}', zh: 'code：没有兑换券 {code}' },
  'item.notOffered': { code: 'NOT_FOUND', en: 'item: no catalog item {item} is offered to member {member}', zh: 'item：没有向储户 {member} 提供的商品 {item}' },
  'pool.notOpenTo': { code: 'NOT_FOUND', en: 'pool: no pool {pool} is open to member {member}', zh: 'pool：没有向储户 {member} 开放的众筹 {pool}' },
  'pool.notFound': { code: 'NOT_FOUND', en: 'pool: no pool {pool}', zh: 'pool：没有众筹 {pool}' },
  'merchant.notFound': { code: 'NOT_FOUND', en: '{field}: no merchant {merchant}', zh: '{field}：没有商户 {merchant}' },
  'claim.notFound': { code: 'NOT_FOUND', en: 'claim: no claim {claim}', zh: 'claim：没有申报 {claim}' },
  'branch.notFound': { code: 'NOT_FOUND', en: '{field}: no branch with code "{branch}"', zh: '{field}：没有代码为 "{branch}" 的分行' },
  'transaction.notFound': { code: 'NOT_FOUND', en: 'transaction: no transaction {transaction}', zh: 'transaction：没有交易 {transaction}' },
  // FORBIDDEN
  'role.required': { code: 'FORBIDDEN', en: 'this needs the role {roles}; your token has role {role}', zh: '此操作需要 {roles} 角色；您的令牌角色是 {role}' },
  'scope.outside': { code: 'FORBIDDEN', en: '{what} belongs to branch {branch}, outside your scope ({scope})', zh: '{what} 属于分行 {branch}，不在您的管辖范围（{scope}）内' },
  'scope.memberOutside': { code: 'FORBIDDEN', en: 'member {member} belongs to a branch outside your scope', zh: '储户 {member} 所属分行不在您的管辖范围内' },
  'scope.branchOutside': { code: 'FORBIDDEN', en: 'branch {branch} is outside your scope ({scope})', zh: '分行 {branch} 不在您的管辖范围（{scope}）内' },
  'scope.thingOutside': { code: 'FORBIDDEN', en: '{thing} is outside your scope', zh: '{thing} 不在您的管辖范围内' },
  'voucher.otherMerchant': { code: 'FORBIDDEN', en: "voucher {code} is for another merchant's item", zh: '兑换券 {code} 属于其他商户的商品' },
  'voucher.notYours': { code: 'FORBIDDEN', en: 'voucher {code} is neither yours nor for your items', zh: '兑换券 {code} 既不是您的，也不是兑换您的商品的' },
  'pool.outsideScope': { code: 'FORBIDDEN', en: 'pool {pool} belongs to a branch outside your scope', zh: '众筹 {pool} 所属分行不在您的管辖范围内' },
  'rule.clientNotAllowed': { code: 'FORBIDDEN', en: 'client {client} may not apply rule "{rule}"', zh: '客户端 {client} 不能使用规则「{rule}」' },
  // UNAUTHENTICATED
  'token.missing': { code: 'UNAUTHENTICATED', en: 'send an Authorization: Bearer <token> header (npm run token prints one, signIn returns one)', zh: '请在请求头中附带 Authorization: Bearer <令牌>（npm run token 可生成令牌，signIn 登录后返回令牌）' },
  'token.expired': { code: 'UNAUTHENTICATED', en: 'token rejected: jwt expired', zh: '令牌已过期：请重新登录或重新获取令牌' },
  'token.rejected': { code: 'UNAUTHENTICATED', en: 'token rejected: {reason}', zh: '令牌无效：{reason}' },
  'token.badHeader': { code: 'UNAUTHENTICATED', en: 'the Authorization header must be "Bearer <token>"', zh: 'Authorization 请求头的格式必须是 "Bearer <令牌>"' },
  // BAD_USER_INPUT of the common fields
  'input.required': { code: 'BAD_USER_INPUT', en: '{field}: is required', zh: '{field}：必填' },
  'input.requiredToCreate': { code: 'BAD_USER_INPUT', en: '{field}: is required to create item {item} (no item of this merchant has that code yet)', zh: '{field}：新建商品 {item} 时必填（该商户还没有这个代码的商品）' },
  'input.reasonRequired': { code: 'BAD_USER_INPUT', en: 'reason: is required: say why, for the audit trail', zh: 'reason：必填，请说明原因，以备审计' },
  'input.textLength': { code: 'BAD_USER_INPUT', en: '{field}: must be 1 to {max} characters', zh: '{field}：长度须为 1 到 {max} 个字符' },
  'input.printableLength': { code: 'BAD_USER_INPUT', en: '{field}: must be 1 to {max} printable characters', zh: '{field}：须为 1 到 {max} 个可打印字符' },
  'input.wholeNumber': { code: 'BAD_USER_INPUT', en: '{field}: must be a whole number from {min} to {max}', zh: '{field}：须为 {min} 到 {max} 之间的整数' },
  'input.between': { code: 'BAD_USER_INPUT', en: '{field}: must be between {min} and {max}', zh: '{field}：须在 {min} 到 {max} 之间' },
  'input.oneOf': { code: 'BAD_USER_INPUT', en: '{field}: must be one of {values}', zh: '{field}：须为以下之一：{values}' },
  'input.exactlyOneMember': { code: 'BAD_USER_INPUT', en: '{field}: give exactly one of {choices}', zh: '{field}：{choices} 须且只能给出一个' },
  'input.cursor': { code: 'BAD_USER_INPUT', en: '{field}: is not a cursor from this API', zh: '{field}：不是本接口返回的游标' },
  'amount.notString': { code: 'BAD_USER_INPUT', en: '{field}: must be a decimal string such as "12.50"', zh: '{field}：须为十进制数字字符串，例如 "12.50"' },
  'amount.notPlain': { code: 'BAD_USER_INPUT', en: '{field}: "{value}" is not a plain decimal such as "12.50" (no exponent, no spaces, no "+")', zh: '{field}："{value}" 不是普通十进制数，例如 "12.50"（不能有指数、空格或 "+"）' },
  'amount.scale': { code: 'BAD_USER_INPUT', en: '{field}: {value} has more than {scale} decimal places', zh: '{field}：{value} 的小数位超过 {scale} 位' },
  'amount.tooLarge': { code: 'BAD_USER_INPUT', en: '{field}: {value} is too large', zh: '{field}：{value} 过大' },
  'amount.notPositive': { code: 'BAD_USER_INPUT', en: '{field}: must be greater than zero, got {value}', zh: '{field}：须大于零，收到的是 {value}' },
  'amount.zero': { code: 'BAD_USER_INPUT', en: '{field}: must not be zero', zh: '{field}：不能为零' },
  'asset.unknown': { code: 'BAD_USER_INPUT', en: '{field}: unknown asset "{asset}"; known: {known}', zh: '{field}：未知资产 "{asset}"；可用的有：{known}' },
  'occurredAt.future': { code: 'BAD_USER_INPUT', en: '{field}: {at} is in the future', zh: '{field}：{at} 是将来的时间' },
  'voucher.badCode': { code: 'BAD_USER_INPUT', en: '{field}: "{value}" is not a voucher code ({length} characters of 0-9 and A-Z without I, L, O, U)', zh: '{field}："{value}" 不是兑换券码（{length} 位，由 0-9 和除 I、L、O、U 以外的 A-Z 组成）' },
  'input.invalid': { code: 'BAD_USER_INPUT', en: 'the input is not valid: {detail}', zh: '输入有误：{detail}' },
  // Operators signing in (src/operators/): what the sign-in page shows a person
  'signIn.wrong': { code: 'UNAUTHENTICATED', en: 'wrong username or password; after {attempts} wrong passwords in a row an account locks for {minutes} minutes', zh: '用户名或密码错误；连续输错 {attempts} 次密码，账号将锁定 {minutes} 分钟' },
  'signIn.disabled': { code: 'UNAUTHENTICATED', en: 'the operator "{username}" is disabled; an admin of its branch can enable it', zh: '操作员「{username}」已停用；可请所属网点的管理员重新启用' },
  'session.ended': { code: 'UNAUTHENTICATED', en: 'your session has ended: signed out, expired or the operator was disabled; sign in again', zh: '会话已结束（已退出、已过期或操作员已停用），请重新登录' },
  'signIn.locked': { code: 'LIMIT_EXCEEDED', en: 'the account "{username}" is locked after {attempts} wrong passwords in a row, until {lockedUntil} ({timeZone}); try again then, or ask an admin to reset the password, which also unlocks it', zh: '账号「{username}」因连续 {attempts} 次输错密码已锁定，至 {lockedUntil}（{timeZone}）解锁；届时再试，或请管理员重置密码（重置后立即解锁）' },
  'signIn.throttled': { code: 'RATE_LIMITED', en: 'too many failed sign-ins from your address; try again in {seconds} s ({minutes} min)', zh: '您所在地址登录失败次数过多；请在 {seconds} 秒（约 {minutes} 分钟）后再试' },
  'request.timeBudget': { code: 'LIMIT_EXCEEDED', en: 'the request ran past its time budget and was stopped (nothing it was writing was kept); ask for less at once (smaller pages, fewer fields), or retry later with the same idempotencyKey', zh: '请求超出了处理时限，已被中止（未保存任何写入）；请一次少查一些（更小的分页、更少的字段），或稍后用同一个幂等键重试' },
  // Selections (评选, src/selections/selections.ts): raised by id, so no English template here is matched against another's text
  'selection.notFound': { code: 'NOT_FOUND', en: 'selection: no selection {selection}', zh: 'selection：没有评选 {selection}' },
  'selection.candidateNotFound': { code: 'NOT_FOUND', en: 'candidate: no candidate {candidate} in selection {selection}', zh: 'candidate：评选 {selection} 中没有候选人 {candidate}' },
  'selection.objectionNotFound': { code: 'NOT_FOUND', en: 'objection: no objection {objection}', zh: 'objection：没有异议 {objection}' },
  'selection.ruleNotApplicable': { code: 'NOT_FOUND', en: 'rule: no rule "{rule}" applies to branch {branch}', zh: 'rule：没有适用于网点 {branch} 的规则「{rule}」' },
  'selection.ruleNeedsApproval': { code: 'BAD_USER_INPUT', en: 'rule: rule "{rule}" needs approval; a selection pays its winners under a rule that does not', zh: 'rule：规则「{rule}」需要审批；评选须使用无需审批的规则发放积分' },
  'selection.quotaFull': { code: 'LIMIT_EXCEEDED', en: 'selection {selection} has a quota of {quota} and {nominated} candidates already: no more can be nominated', zh: '评选 {selection} 的名额为 {quota} 个，已提名 {nominated} 个，不能再提名' },
  'selection.candidateTwice': { code: 'INVALID_STATE', en: '{candidate} is already a candidate of selection {selection}', zh: '{candidate} 已是评选 {selection} 的候选人' },
  'selection.candidateOutside': { code: 'BAD_USER_INPUT', en: '{field}: {candidate} does not belong to branch {branch} of selection {selection}', zh: '{field}：{candidate} 不属于评选 {selection} 的网点 {branch}' },
  'selection.householdNotFound': { code: 'NOT_FOUND', en: '{field}: no household {household} in this bank', zh: '{field}：本行没有家庭户 {household}' },
  'selection.ruleCreditsMembers': { code: 'BAD_USER_INPUT', en: '{field}: rule "{rule}" of selection {selection} credits members; a household is nominated only where the rule credits households', zh: '{field}：评选 {selection} 的规则「{rule}」发放给储户个人；只有发放给家庭户的规则才能提名家庭户' },
  'selection.notOpen': { code: 'INVALID_STATE', en: 'selection {selection} is {state}: only an open selection takes nominations or is published', zh: '评选 {selection} {state}：只有草拟中的评选才能提名候选人或发布名单' },
  'selection.noCandidates': { code: 'INVALID_STATE', en: 'selection {selection} has no candidates: nominate at least one before publishing', zh: '评选 {selection} 还没有候选人：发布前请至少提名一位' },
  'selection.notPublished': { code: 'INVALID_STATE', en: 'selection {selection} is {state}: objections, their resolution and extensions need a published selection', zh: '评选 {selection} {state}：只有公示中的评选才能提出异议、处理异议或延长公示期' },
  'selection.notWithdrawable': { code: 'INVALID_STATE', en: 'selection {selection} is {state}: a selection can be withdrawn only before awarding', zh: '评选 {selection} {state}：只有在开始发放前才能撤回评选' },
  'selection.periodOver': { code: 'INVALID_STATE', en: 'the notice period of selection {selection} ended at {at}: objections are no longer taken', zh: '评选 {selection} 的公示期已于 {at} 结束，不再受理异议' },
  'selection.candidateNotNominated': { code: 'INVALID_STATE', en: 'candidate {candidate} of selection {selection} is {state}: objections are filed against a nominated candidate', zh: '评选 {selection} 的候选人 {candidate} {state}：只能对公示名单上的候选人提出异议' },
  'selection.objectionResolved': { code: 'INVALID_STATE', en: 'objection {objection} was already {decision} by {by}', zh: '异议 {objection} 已被 {by} {decision}' },
  'selection.objectorOutside': { code: 'FORBIDDEN', en: 'selection {selection} is for branch {branch}: only its members may object', zh: '评选 {selection} 面向 {branch}：只有该网点的储户才能提出异议' },
  'selection.objectionsPerMember': { code: 'LIMIT_EXCEEDED', en: 'you have filed {max} objections on selection {selection}, the most one member may', zh: '您已对评选 {selection} 提出 {max} 条异议，已达每人上限' },
  'selection.extendedTooFar': { code: 'BAD_USER_INPUT', en: '{field}: a notice period may be extended by {max} days in all', zh: '{field}：公示期累计最多延长 {max} 天' },
  // RATE_LIMITED and UNAVAILABLE: a client retries, with the same idempotencyKey for a write
  'rate.limited': { code: 'RATE_LIMITED', en: 'too many requests; retry in {retryAfter} s (with the same idempotencyKey for a write)', zh: '请求过于频繁；请在 {retryAfter} 秒后重试（写操作请使用同一个幂等键）' },
  'database.unavailable': { code: 'UNAVAILABLE', en: 'the database is unavailable; retry in {retryAfter} s (with the same idempotencyKey for a write)', zh: '数据库暂时不可用；请在 {retryAfter} 秒后重试（写操作请使用同一个幂等键）' },
  'database.busy': { code: 'UNAVAILABLE', en: 'the database was too busy to answer in time; retry in {retryAfter} s (with the same idempotencyKey for a write)', zh: '数据库繁忙，未能及时响应；请在 {retryAfter} 秒后重试（写操作请使用同一个幂等键）' },
};

/** Parameters that hold an instant: shown in ISO 8601 in the bank's time zone, whatever text they came as. */
const instantParams: ReadonlySet<string> = new Set(['at', 'fulfilledAt', 'expiredAt', 'from', 'to', 'deadline', 'windowStart', 'until']);

/** Chinese for the status and window words that appear as parameters. */
const zhTerms: Record<string, string> = {
  PENDING: '待处理', FULFILLED: '已核销', CANCELLED: '已取消', EXPIRED: '已过期', REFUNDED: '已退款',
  OPEN: '募集中', FUNDED: '已筹满', DISBURSED: '已拨付', CLOSED: '已关闭', POSTED: '已入账', VOIDED: '已作废',
  'client or admin': '客户端或管理员', 'merchant or admin': '商户或管理员', admin: '管理员', client: '客户端', merchant: '商户', member: '储户',
  approved: '批准', rejected: '驳回', day: '日', week: '周', month: '月', year: '年',
  ' per day': '每日', ' per week': '每周', ' per month': '每月', ' per year': '每年',
  'the beginning': '最早', 'no end': '无期限',
  // a selection's and its candidates' states, and objection decisions (the {state} of selection refusals)
  open: '尚在草拟', published: '正在公示', awarding: '正在发放', awarded: '已发放', withdrawn: '已撤回', nominated: '在公示名单上', struck: '已被取消资格',
  upheld: '采纳', dismissed: '驳回',
};

/** The parameters whose values are words of the API (statuses, windows, roles), not names or figures. */
const termParams: ReadonlySet<string> = new Set(['status', 'state', 'window', 'period', 'per', 'decision', 'roles', 'role', 'from', 'to']);

interface Template { id: string; entry: Entry; pattern: RegExp }

/** The English templates as anchored patterns, one named group per parameter. */
const templates: Template[] = Object.entries(catalogue).map(([id, entry]) => {
  const source = entry.en.split(/(\{\w+\})/).map((part) => {
    const name = /^\{(\w+)\}$/.exec(part)?.[1];
    return name ? `(?<${name}>.*?)` : part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  }).join('');
  return { id, entry, pattern: new RegExp(`^${source}$`, 's') };
});

/** PostgreSQL's text of a timestamptz ("2026-12-02 11:38:55.284299+00"), or an ISO 8601 instant. */
const pgTimestamp = /^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}:\d{2})(\.\d+)?(Z|[+-]\d{2}(?::?\d{2})?)$/;

export function parseInstant(text: string): Date | null {
  const m = pgTimestamp.exec(text.trim());
  if (!m) return null;
  const fraction = m[3] ? m[3].slice(0, 4).padEnd(4, '0') : '';
  let zone = m[4]!;
  if (zone !== 'Z') zone = zone.length === 3 ? `${zone}:00` : zone.includes(':') ? zone : `${zone.slice(0, 3)}:${zone.slice(3)}`;
  const date = new Date(`${m[1]}T${m[2]}${fraction}${zone}`);
  return Number.isNaN(date.getTime()) ? null : date;
}

/** An instant in ISO 8601 with the offset of timeZone, e.g. 2026-12-02T19:38:55.284+08:00. */
export function formatInstant(date: Date, timeZone: string): string {
  let parts: Record<string, string>;
  try {
    parts = Object.fromEntries(new Intl.DateTimeFormat('en-US', {
      timeZone, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit', timeZoneName: 'longOffset',
    }).formatToParts(date).map((p) => [p.type, p.value]));
  } catch {
    return date.toISOString();
  }
  const offset = parts.timeZoneName === 'GMT' ? '+00:00' : parts.timeZoneName!.replace('GMT', '');
  const ms = String(date.getUTCMilliseconds()).padStart(3, '0');
  return `${parts.year}-${parts.month}-${parts.day}T${parts.hour}:${parts.minute}:${parts.second}.${ms}${offset}`;
}

/** The catalogue id and parameters of a message of this code, recovered from its English text. */
export function matchMessage(code: string, message: string): { id: string; params: MessageParams } | undefined {
  for (const t of templates) {
    if (t.entry.code !== code) continue;
    const m = t.pattern.exec(message);
    if (!m) continue;
    const params: MessageParams = {};
    for (const [name, value] of Object.entries(m.groups ?? {})) {
      const instant = instantParams.has(name) ? parseInstant(value) : null;
      params[name] = instant ?? value;
    }
    return { id: t.id, params };
  }
  return undefined;
}

/** The id and parameters of an error: given where it was raised, else recovered from its English text. */
export function describeError(error: BankError): { id?: string; params: MessageParams } {
  if (error.detail?.id) return { id: error.detail.id, params: error.detail.params ?? {} };
  const matched = matchMessage(error.code, error.message);
  return matched ?? { params: error.detail?.params ?? {} };
}

function fill(template: string, params: Record<string, string>): string {
  return template.replace(/\{(\w+)\}/g, (whole, name: string) => params[name] ?? whole);
}

/**
 * The message of an error in a language, and its parameters as the API shows them (instants in ISO
 * 8601 in timeZone). A message without an id, or without a translation, stays as raised (English).
 */
export function renderError(error: BankError, locale: Locale): { message: string; params: Record<string, string | number> } {
  const { id, params } = describeError(error);
  const shown: Record<string, string | number> = {};
  for (const [name, value] of Object.entries(params)) shown[name] = value instanceof Date ? formatInstant(value, locale.timeZone) : value;
  const entry = id ? catalogue[id] : undefined;
  if (!entry) return { message: error.message, params: shown };
  const text = Object.fromEntries(Object.entries(shown).map(([k, v]) => [k, String(v)]));
  if (locale.language === 'zh-CN') {
    const zh = Object.fromEntries(Object.entries(text).map(([k, v]) => [k, termParams.has(k) ? zhTerms[v] ?? v : v]));
    return { message: fill(entry.zh, zh), params: shown };
  }
  return { message: fill(entry.en, text), params: shown };
}

/** Whether the catalogue has this id (for errors raised by id). */
export function hasMessage(id: string): boolean {
  return id in catalogue;
}

/** The English message of an id with its parameters (instants in timeZone), for raising a BankError by id. */
export function englishMessage(id: string, params: MessageParams, timeZone = 'UTC'): string {
  const entry = catalogue[id];
  if (!entry) throw new Error(`no message ${id} in the catalogue`);
  return fill(entry.en, Object.fromEntries(Object.entries(params).map(([k, v]) => [k, v instanceof Date ? formatInstant(v, timeZone) : String(v)])));
}

/** Accept-Language entries longer than this are not read (a header is a few entries). */
const acceptLanguageEntriesMax = 20;

/**
 * The language an Accept-Language header prefers among the two the bank speaks: the highest q-value
 * wins (ties: the first listed); zh of any region is zh-CN; English when nothing matches.
 */
export function pickLanguage(header: string | undefined): Language {
  if (!header) return 'en';
  let best: { language: Language; q: number } | undefined;
  for (const part of header.split(',').slice(0, acceptLanguageEntriesMax)) {
    const [tagRaw, ...rest] = part.trim().split(';');
    const tag = (tagRaw ?? '').trim().toLowerCase();
    const qParam = rest.map((p) => p.trim()).find((p) => p.startsWith('q='));
    const q = qParam ? Number(qParam.slice(2)) : 1;
    if (!Number.isFinite(q) || q <= 0 || q > 1) continue;
    const language: Language | undefined = tag === 'zh' || tag.startsWith('zh-') ? 'zh-CN' : tag === 'en' || tag.startsWith('en-') ? 'en' : undefined;
    if (language && (!best || q > best.q)) best = { language, q };
  }
  return best?.language ?? 'en';
}
