# Image for api, worker, signer and ledger services (see docker-compose.yml).
FROM node:24-bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends softhsm2 opensc python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci
COPY . .
RUN npx hardhat build && npx tsc -p tsconfig.build.json
USER node
