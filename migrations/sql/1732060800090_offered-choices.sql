-- Up Migration
-- The choices a Genesys bot offered a customer (issue #12, part 3), kept so that the customer's
-- answer goes back to Genesys with the option's payload (genesys-connector/src/mapping/inbound.ts):
-- a reply button or list row id `option-<n>` says nothing by itself, nor does a typed "3".

-- On each part of an agent message that offers choices (reply buttons, a list, a numbered text):
-- {"to": <the customer it went to>, "choices": [OfferedChoice…]} with every choice of the message.
-- Found by the wamid the customer's answer replies to (context.id, message_parts_wamid_key), and
-- only for an answer from that same customer.
ALTER TABLE message_parts ADD COLUMN offered jsonb;

-- The numbered choices of the latest message sent to the customer, when it offered some (a numbered
-- text), and when it was sent: a text that is only a number answers them. Every later message
-- replaces them (a message without numbered choices leaves none); they are ignored 24 hours after.
ALTER TABLE conversation_mappings ADD COLUMN numbered_choices jsonb, ADD COLUMN numbered_choices_at timestamptz;

-- Down Migration
ALTER TABLE conversation_mappings DROP COLUMN numbered_choices_at, DROP COLUMN numbered_choices;
ALTER TABLE message_parts DROP COLUMN offered;
