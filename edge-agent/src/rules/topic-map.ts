import type { TopicTarget } from '@tether/shared';

/**
 * Maps a source topic to the target side's topic (Tether extension; Baetyl forwarded
 * topics unchanged). `strip` removes a prefix, then either `topic` (a template with
 * `{topic}` and `{0}`, `{1}`… for levels) or `prefix` builds the result.
 */
export type TopicMapper = (topic: string) => string;

const identity: TopicMapper = (topic) => topic;

export function compileTopicMapper(target: TopicTarget | undefined): TopicMapper {
  if (!target || (target.strip === undefined && target.prefix === undefined && target.topic === undefined)) {
    return identity;
  }
  const { strip, prefix, topic: template } = target;
  const stripTopic = strip ? (t: string) => (t.startsWith(strip) ? t.slice(strip.length) : t) : identity;
  if (template !== undefined) {
    const usesLevels = /\{\d+\}/.test(template);
    return (source) => {
      const stripped = stripTopic(source);
      const levels = usesLevels ? stripped.split('/') : [];
      return template.replace(/\{(topic|\d+)\}/g, (_, key: string) =>
        key === 'topic' ? stripped : (levels[Number(key)] ?? ''),
      );
    };
  }
  const add = prefix ?? '';
  return (source) => add + stripTopic(source);
}
