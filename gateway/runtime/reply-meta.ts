/**
 * The `meta` of every operation's reply (CONTRACT §4): one schema, for the serializer each operation is
 * compiled with (nothing undeclared can leave) and for the OpenAPI document.
 */
export const REPLY_META_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['transactionId', 'service', 'operation', 'source', 'retrievedAt', 'stale'],
  properties: {
    transactionId: { type: 'string', format: 'uuid' },
    service: { type: 'string' },
    operation: { type: 'string' },
    source: { type: 'string', enum: ['upstream', 'reuse'] },
    retrievedAt: {
      type: 'string',
      format: 'date-time',
      description: 'When the registry provided the oldest record used, to the minute',
    },
    stale: { type: 'boolean', description: 'A kept record served past its window while the registry was down' },
  },
} as const
