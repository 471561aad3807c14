// Labels of the concord.v1 enums as people read them. The first entry of each
// map is the unspecified value (proto3 JSON leaves it out of replies).

export const TIERS = { TIER_UNSPECIFIED: '–', TIER_S: 'S · strategic', TIER_A: 'A · key', TIER_B: 'B · general' };
export const STAGES = {
    LIFECYCLE_STAGE_UNSPECIFIED: '–', PROSPECT: 'Prospect', HANDOVER: 'Handover',
    ONBOARDING: 'Onboarding', ADOPTION: 'Adoption', RENEWAL: 'Renewal', CHURNED: 'Churned',
};
export const SIZES = { SIZE_CLASS_UNSPECIFIED: '–', LARGE: 'Large', MEDIUM: 'Medium', SMALL: 'Small', ENTRY: 'Entry' };
export const MODES = {
    SELLING_MODE_UNSPECIFIED: '–', TRANSACTIONAL: 'Transactional', CONSULTATIVE: 'Consultative',
    ENTERPRISE: 'Enterprise',
};
export const MODELS = {
    BUSINESS_MODEL_UNSPECIFIED: '–', PROFESSIONAL_SERVICES: 'Professional services',
    SOLUTION: 'Solution', PRODUCT: 'Product', ONLINE_SERVICE: 'Online service',
};
export const CRITERIA = {
    ICP_CRITERION_UNSPECIFIED: '–', SCALE_AND_MATURITY: 'Scale and management maturity',
    INDUSTRY_INFLUENCE: 'Influence in its industry or region', HEALTHY_GROWTH: 'Healthy growth',
    IT_AS_STRATEGY: 'Sees IT as strategic', WIN_WIN_MINDSET: 'Win-win mindset',
};
export const DEPARTMENTS = {
    DEPARTMENT_UNSPECIFIED: '–', SALES: 'Sales', PRESALES: 'Presales', DELIVERY: 'Delivery',
    RND: 'R&D', SUCCESS: 'Customer success',
};
export const TEAM_ROLES = {
    TEAM_ROLE_UNSPECIFIED: '–', ACCOUNT_OWNER: 'Account owner', SOLUTION_LEAD: 'Solution lead',
    DELIVERY_LEAD: 'Delivery lead', RND_LIAISON: 'R&D liaison',
    CUSTOMER_SUCCESS_MANAGER: 'Customer success manager', EXECUTIVE_SPONSOR: 'Executive sponsor',
};
export const ACCESS = { ACCESS_LEVEL_UNSPECIFIED: '–', READ: 'Read', EDIT: 'Edit' };
export const CONTRACT_STATUS = {
    CONTRACT_STATUS_UNSPECIFIED: '–', CONTRACT_ACTIVE: 'Active', CONTRACT_CANCELLED: 'Cancelled',
};
export const LEVELS = {
    STAKEHOLDER_LEVEL_UNSPECIFIED: '–', EXECUTIVE: 'Executive', DIRECTOR: 'Director', STAFF: 'Staff',
};
export const ATTITUDES = {
    ATTITUDE_UNSPECIFIED: 'Not known', CHAMPION: 'Champion', SUPPORTER: 'Supporter',
    NEUTRAL: 'Neutral', BLOCKER: 'Blocker',
};
export const ACTIVITY_KINDS = {
    ACTIVITY_KIND_UNSPECIFIED: '–', MEETING: 'Meeting', CALL: 'Call', EMAIL: 'Email',
    VISIT: 'Visit', NOTE: 'Note', DEMO: 'Demo', TRAINING: 'Training',
};
export const ENTRY_TYPES = {
    TIMELINE_ENTRY_TYPE_UNSPECIFIED: '–', TIMELINE_ACTIVITY: 'Activities',
    TIMELINE_STAGE_CHANGE: 'Stage changes', TIMELINE_TIER_CHANGE: 'Tier changes',
    TIMELINE_AUDIT: 'Record changes',
};
// One entry of each type, for the badge on the entry.
export const ENTRY_TYPE = {
    TIMELINE_ENTRY_TYPE_UNSPECIFIED: 'Entry', TIMELINE_ACTIVITY: 'Activity',
    TIMELINE_STAGE_CHANGE: 'Stage change', TIMELINE_TIER_CHANGE: 'Tier change',
    TIMELINE_AUDIT: 'Record change',
};
export const PROPOSAL_STATUS = {
    PROPOSAL_STATUS_UNSPECIFIED: '–', PENDING: 'Pending', APPROVED: 'Approved',
    OVERRIDDEN: 'Overridden', REJECTED: 'Rejected', SUPERSEDED: 'Superseded',
};
export const EVENT_CATEGORIES = {
    EVENT_CATEGORY_UNSPECIFIED: '–', RANKING: 'Ranking', POLICY: 'Policy',
    ASSESSMENT: 'Assessment', ANNIVERSARY: 'Anniversary', LEADERSHIP_CHANGE: 'Leadership change',
    OTHER_EVENT: 'Other',
};
export const TASK_STATUS = { TASK_STATUS_UNSPECIFIED: 'All', TASK_OPEN: 'Open', TASK_DONE: 'Done' };

// CSS class of a tier badge.
export function tierClass(tier) {
    return `badge tier-${(tier || 'TIER_UNSPECIFIED').toLowerCase()}`;
}

export function stageClass(stage) {
    return `badge stage-${(stage || 'LIFECYCLE_STAGE_UNSPECIFIED').toLowerCase()}`;
}
